// Page behaviours declared with data attributes, so that templates carry no inline script or event
// handler (the Content-Security-Policy allows scripts from our own files only):
//   data-print                      a button that prints the page
//   data-swap-statuses="403 422"    inside this element, htmx answers with these statuses are swapped in
//                                   (they carry the form again with its errors), not treated as failures
//   data-reset-on-success           a form htmx posted is cleared once the request succeeded
(function () {
  "use strict";
  if (window.crossdockBehaviours) {
    return;
  }
  window.crossdockBehaviours = true;

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var holder = event.target instanceof Element ? event.target.closest("[data-swap-statuses]") : null;
    if (!holder || !event.detail.xhr) {
      return;
    }
    var statuses = holder.getAttribute("data-swap-statuses").split(/\s+/);
    if (statuses.indexOf(String(event.detail.xhr.status)) !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success") && event.detail.successful) {
      form.reset();
    }
  });
})();
