"""Support area."""
