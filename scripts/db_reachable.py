"""Exit 0 when the database at the URL given as the only argument accepts a connection."""

import sys

import psycopg


def main():
    url = sys.argv[1]
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("select 1")
    except psycopg.Error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
