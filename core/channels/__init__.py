"""Channel adapters: each channel's native order payloads read into the frozen canonical order, no DB."""
