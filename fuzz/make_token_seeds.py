#!/usr/bin/env python3
"""Writes seeds/consul_bearer_token/: aws-iam bearer tokens as `consul login` builds them
(consul-awsauth format), each prefixed by the target's configuration byte (0: plain,
1: IAMEntityDetails). Signatures are placeholders: the checks under fuzz run before replay."""
import base64, json, os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "consul_bearer_token")
FORM = "application/x-www-form-urlencoded; charset=utf-8"
STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def token(method, url, headers, body):
    return json.dumps({"iam_http_request_method": method, "iam_request_url": b64(url),
                       "iam_request_headers": b64(json.dumps(headers)), "iam_request_body": b64(body)})


def auth(service, signed):
    return (f"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEWEBTASK01/20260101/us-east-1/{service}/aws4_request, "
            f"SignedHeaders={signed}, Signature=" + "0" * 64)


def main():
    os.makedirs(OUT, exist_ok=True)
    sts = {"Content-Type": [FORM], "X-Amz-Date": ["20260101T000000Z"],
           "X-Amz-Security-Token": ["IQoJb3JpZ2luX2VjEXAMPLE"],
           "X-Consul-Iam-Serverid": ["consul.example.com"],
           "Authorization": [auth("sts", "content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-serverid")]}
    iam = {"Content-Type": [FORM], "X-Amz-Date": ["20260101T000000Z"],
           "X-Consul-Iam-Serverid": ["consul.example.com"],
           "Authorization": [auth("iam", "content-type;host;x-amz-date;x-consul-iam-serverid")]}
    entity = dict(sts)
    entity.update({"X-Consul-Iam-Getentity-Method": ["POST"],
                   "X-Consul-Iam-Getentity-Url": ["https://iam.amazonaws.com/"],
                   "X-Consul-Iam-Getentity-Headers": [json.dumps(iam)],
                   "X-Consul-Iam-Getentity-Body": ["Action=GetRole&RoleName=web-task&Version=2010-05-08"],
                   "Authorization": [auth("sts", "content-type;host;x-amz-date;x-amz-security-token;"
                                      "x-consul-iam-getentity-body;x-consul-iam-getentity-headers;"
                                      "x-consul-iam-getentity-method;x-consul-iam-getentity-url;x-consul-iam-serverid")]})
    seeds = {
        "plain": b"\x00" + token("POST", "https://sts.amazonaws.com/", sts, STS_BODY).encode(),
        "regional": b"\x00" + token("POST", "https://sts.us-west-2.amazonaws.com/", sts, STS_BODY).encode(),
        "entity": b"\x01" + token("POST", "https://sts.amazonaws.com/", entity, STS_BODY).encode(),
        "entity_get_user": b"\x01" + token("POST", "https://sts.amazonaws.com/", {
            **entity, "X-Consul-Iam-Getentity-Body": ["Action=GetUser&UserName=u&Version=2010-05-08"]},
            STS_BODY).encode(),
        "empty_object": b"\x00{}",
        "get_query": b"\x00" + token("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15", sts, "").encode(),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
