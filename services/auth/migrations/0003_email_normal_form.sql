-- Emails are stored in one normal form (services/auth/emails.py: NFKC, lower-cased by Python, NFKC) and
-- compared exactly. Comparing lower(email) here as well let PostgreSQL's case mapping find an account under
-- a spelling the failed sign-in counter counted apart ("İ" is "i" to PostgreSQL, "i" + U+0307 to Python).
-- Rows written before were lower-cased by Python already; only compatibility forms (fullwidth letters,
-- ligatures) change here. normalize() needs a UTF8 database, which is what initdb makes for Jan.
DO $$
BEGIN
    IF current_setting('server_encoding') = 'UTF8' THEN
        UPDATE auth.users SET email = lower(normalize(email, NFKC))
        WHERE email IS NOT NULL AND email IS NOT NFKC NORMALIZED;
        UPDATE auth.invites SET email = lower(normalize(email, NFKC)) WHERE email IS NOT NFKC NORMALIZED;
    END IF;
END $$;

DROP INDEX auth.users_email_key;
CREATE UNIQUE INDEX users_email_key ON auth.users (email) WHERE email IS NOT NULL;

-- Counters keyed by the old form would not be found again; each lasts one window at most anyway.
DELETE FROM auth.login_failures;
