"""Merchant set-up: channels (and, in time, locations, users and settings) configured without the seed."""
