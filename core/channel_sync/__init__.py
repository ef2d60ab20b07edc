"""Channel sync: the work that talks to the channels through their adapters (stock and shipment pushes from
the outbox, order polling), each owning its sessions and commits. The adapters (core.channels) stay a leaf."""
