"""Message templates: their tables, the sandbox that renders them, locales and locale-aware filters."""
