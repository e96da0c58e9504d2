"""Where messages go: one transport per channel."""
