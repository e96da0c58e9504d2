"""The web side of outreach: unsubscribe links, the SendGrid webhook, the organizer console."""
