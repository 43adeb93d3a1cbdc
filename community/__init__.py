"""Places, Connected Teams, people, memberships and roles, sign-in and two-factor authentication."""
