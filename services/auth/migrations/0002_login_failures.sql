-- Failed password sign-ins per email in the current window (accounts.py): after JAN_LOGIN_MAX_FAILURES
-- the email's sign-ins are refused until the window ends, so passwords cannot be guessed online. Shared
-- by every replica; rows of past windows are deleted as new failures come in.
CREATE TABLE auth.login_failures (
    email         text PRIMARY KEY,  -- lower-cased
    failures      integer NOT NULL,
    window_start  timestamptz NOT NULL
);
CREATE INDEX login_failures_window_start ON auth.login_failures (window_start);
