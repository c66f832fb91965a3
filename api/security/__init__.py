"""Sign-in machinery: passwords, browser sessions with CSRF, API tokens, rate limits, headers."""
