"""A load test of a whole deployment, run by hand: `python -m benchmarks.load --orders N --clients 64
--seconds 60 [--faults]`.

It starts its own PostgreSQL cluster (initdb into a temporary directory, a free port: the shared server is never
touched), seeds it, runs `crossdock serve --workers 2` and a `crossdock worker` sending mail to a local SMTP
catcher, and drives a mix of customers (sign in, order list, an order), guests (lookup by number and email),
channel webhooks (signed Shopify orders) and agents (queue, a ticket, search) from concurrent clients. It reports
requests/s and p50/p95/p99 per endpoint with errors, then checks the data: no stock level oversold, every email
queued exactly once and delivered to the catcher, every accepted webhook stored. With --faults the worker is
killed and started again mid-run and PostgreSQL restarted once: the web must answer 503 with Retry-After
meanwhile (counted apart from errors), reconnect by itself and lose nothing.
"""
