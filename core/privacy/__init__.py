"""Customers' data rights and backups: the "my data" export, erasure (anonymisation that keeps the financial
records), rectification, privacy requests (from the portal and from Shopify's compliance webhooks), retention,
card-number masking of stored payloads, and database backup and restore."""
