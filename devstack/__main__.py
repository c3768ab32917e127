"""`python -m devstack up`: start the whole stack in the foreground until Ctrl-C or SIGTERM."""

from devstack.cli import main

if __name__ == "__main__":
    main()
