"""The long-running worker: the clock (APScheduler), campaign reloads, health."""
