"""Python client for the style-transfer service (httpx + tqdm; no torch, no engine).

    stylize-client CONTENT STYLE [STYLE ...] --url http://127.0.0.1:8000 -o out.png

Library use: :func:`stylize_client.cli.stream_job` yields the server's NDJSON events.
"""

__version__ = "1.1.0"
