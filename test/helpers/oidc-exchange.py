"""The trusted publishing exchange of the PyPA publish action (pypa/gh-action-pypi-publish,
oidc-exchange.py), step by step, with the same library (requests) and the same rules, so a test
can run it against wheelhouse:

1. The endpoints come from the `repository-url` input: only its host (and port) is kept, and the
   scheme is always https: https://<netloc>/_/oidc/audience and https://<netloc>/_/oidc/mint-token.
2. GET the audience; 403 means "trusted publishing disabled", 404 "no trusted publishing support",
   anything else not ok is "unexpected"; the audience is `.json()["audience"]`.
3. Get the job's OIDC token for that audience as the `id` package does on GitHub Actions: GET
   $ACTIONS_ID_TOKEN_REQUEST_URL with params audience=..., header "Authorization: bearer
   $ACTIONS_ID_TOKEN_REQUEST_TOKEN", and take `.json()["value"]`.
4. POST {"token": <OIDC token>} as JSON to the mint endpoint. A body that is not JSON is a server
   fault; a non-ok answer lists `errors[*].code` and `.description`, followed by the token's claims;
   an ok answer must carry `token`.

On success the token alone is printed on stdout (the action captures it as the password). On
failure the action's messages go to stderr and the step summary, and the exit code is 1.
"""

import base64
import json
import os
import sys
from http import HTTPStatus
from urllib.parse import urlparse

import requests


def die(msg):
    with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as io:
        print(f"Trusted publishing exchange failure:\n\n{msg}", file=io)
    print(f"::error::Trusted publishing exchange failure: {msg.replace(chr(10), '%0A')}", file=sys.stderr)
    sys.exit(1)


def render_claims(token):
    _, payload, _ = token.split(".", 2)
    payload += "=" * (4 - (len(payload) % 4))
    claims = json.loads(base64.urlsafe_b64decode(payload))
    names = ["sub", "repository", "repository_owner", "repository_owner_id", "job_workflow_ref", "ref"]
    return "\n".join(f"* `{n}`: `{claims.get(n, 'MISSING')}`" for n in names)


repository_url = os.environ["INPUT_REPOSITORY_URL"]
repository_domain = urlparse(repository_url).netloc
token_exchange_url = f"https://{repository_domain}/_/oidc/mint-token"
audience_url = f"https://{repository_domain}/_/oidc/audience"

audience_resp = requests.get(audience_url, timeout=30)
if not audience_resp.ok:
    if audience_resp.status_code == HTTPStatus.FORBIDDEN:
        die(f"audience retrieval failed: repository at {repository_domain} has trusted publishing disabled")
    if audience_resp.status_code == HTTPStatus.NOT_FOUND:
        die(f"audience retrieval failed: repository at {repository_domain} does not indicate trusted publishing support")
    status = HTTPStatus(audience_resp.status_code)
    die(f"audience retrieval failed: repository at {repository_domain} responded with unexpected {status.value}: {status.phrase}")
oidc_audience = audience_resp.json()["audience"]

id_resp = requests.get(
    os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"],
    params={"audience": oidc_audience},
    headers={"Authorization": f"bearer {os.environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
    timeout=30,
)
id_resp.raise_for_status()
oidc_token = id_resp.json()["value"]

mint_token_resp = requests.post(token_exchange_url, json={"token": oidc_token}, timeout=30)
try:
    mint_token_payload = mint_token_resp.json()
except requests.JSONDecodeError:
    die(f"Token request failed: the index produced an unexpected {mint_token_resp.status_code} response.")

if not mint_token_resp.ok:
    reasons = "\n".join(f"* `{error['code']}`: {error['description']}" for error in mint_token_payload["errors"])
    die(
        "Token request failed: the server refused the request for the following reasons:\n\n"
        f"{reasons}\n\n{render_claims(oidc_token)}"
    )

pypi_token = mint_token_payload.get("token")
if pypi_token is None:
    die("Token response error: the index gave us an invalid response.")

print(f"::add-mask::{pypi_token}", file=sys.stderr)
print(pypi_token)
