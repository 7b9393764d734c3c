"""Streams one chat completion through llmtap with nothing but Python's standard library.

The demo client of compose.yaml (`docker compose --profile demo up`) and the Python client of the test
suite's any-language capture test. Settings, from the environment as the OpenAI SDKs read them:
OPENAI_BASE_URL (default http://localhost:8780/v1), OPENAI_API_KEY (required), OPENAI_MODEL (default
gpt-4o-mini). Prints the answer as it streams, then the ids of the span llmtap recorded for it.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    base_url = os.environ.get("OPENAI_BASE_URL", "http://localhost:8780/v1").rstrip("/")
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        print("chat_stream: set OPENAI_API_KEY", file=sys.stderr)
        return 2
    body = {
        "model": os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Say hello from a Python client, in five words."}],
    }
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            # Server-sent events, read line by line as they arrive: `data: {chunk}` lines, then `data: [DONE]`.
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    break
                for choice in json.loads(data).get("choices", []):
                    sys.stdout.write(choice.get("delta", {}).get("content") or "")
                    sys.stdout.flush()
            print()
            trace_id = response.headers.get("x-llmtap-trace-id")
            span_id = response.headers.get("x-llmtap-span-id")
            print(f"llmtap recorded trace {trace_id} span {span_id}", file=sys.stderr)
    except urllib.error.HTTPError as err:
        print(f"chat_stream: HTTP {err.code}: {err.read().decode('utf-8', 'replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"chat_stream: cannot reach {base_url}: {err.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
