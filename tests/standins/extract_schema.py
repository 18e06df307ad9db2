#!/usr/bin/python3
"""Extracts the Messages.json create request schema from Twilio's OpenAPI description
into tests/data/twilio-create-message.json (what the Twilio stand-in validates against).

    extract_schema.py ../shared/twilio/twilio_api_v2010.json
"""
import json
import sys

spec = json.load(open(sys.argv[1]))
post = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
body = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
for v in body["properties"].values():
    v.pop("description", None)
out = {
    "source": "Twilio's OpenAPI description (twilio/twilio-oai spec/json/twilio_api_v2010.json, "
              "as in ../shared/twilio/), POST /2010-04-01/Accounts/{AccountSid}/Messages.json: "
              "the request body schema and the AccountSid path parameter, descriptions dropped. "
              "Regenerate with tests/standins/extract_schema.py.",
    "account_sid": [x["schema"] for x in post["parameters"] if x["name"] == "AccountSid"][0],
    "body": body,
}
json.dump(out, open("tests/data/twilio-create-message.json", "w"), indent=1)
