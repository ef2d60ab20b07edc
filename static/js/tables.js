// On a phone, tables become stacked rows (see app.css): label each cell with its column's header, once the
// page loads and whenever htmx brings new rows. Cells that carry their own data-label keep it.
(function () {
  function label() {
    document.querySelectorAll("table.table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (cell.colSpan === 1 && heads[column] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", heads[column]);
          }
          column += cell.colSpan;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", label);
  document.addEventListener("htmx:load", label);
})();
