-- Accounts. Emails are unique case-insensitively; guests have none.
CREATE TABLE auth.users (
    id          text PRIMARY KEY,
    email       text,
    name        text NOT NULL DEFAULT '',
    is_guest    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email)) WHERE email IS NOT NULL;
