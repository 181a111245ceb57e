#!/usr/bin/env python3
"""Writes seeds/aws_query/: STS and IAM requests signed (SigV4, pure Python) with a shipped
fixture session (fixtures/identities.yaml, web-task/task-1) at 2026-01-01T00:00:00Z, the time
the aws_query target pins the emulator clock to, so the seeds verify and reach the actions."""
import hashlib, hmac, os

AKID = "ASIAEXAMPLEWEBTASK01"
SECRET = "eHMsvKYEIlu7euAf+tdg5J8ee8EvXGtJ0r6EKnIm"
TOKEN = ("IQoJb3JpZ2luX2VjE3CNQrRR8K5MVEgbdq9aZswrSSzhHVHGfQD4DF5tQHMTGfPfBx4iDeMuySyxtOuDdQRkZUwrosbacSQq"
         "XEy6oDryO+DiSE0RmS/4N/3kORrHO9kTelyVjZEwQie9Md5KlCGoZKlAq8ue7ksivXSbBd3B7cozB+ojFrnBOtGAiB8J+4"
         "/kvheXOSdE/3zr4gnYXFibShRF4ziSVtN7g+LVFy0cb1PfROuSUxJW6XHP9io5Po1KPhMJuBS/RwYCGGTajkpk6IgsmIS"
         "UUjMsRdfd20L+/KutUqu1ItlqyKc/m7fkBtfYkDglw+wVsR21uess5+4nD2EYQxqJnegp34KsAqjQ92vnoZ9ypXvG12IpP8"
         "N8EgJTyHw4WyXrQcmGNM5TuJBUdHPms4AMaKWP2")
DATE, DAY = "20260101T000000Z", "20260101"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "aws_query")


def h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed(method, path, query, host, region, service, body, extra=()):
    headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
               ("host", host), ("x-amz-date", DATE), ("x-amz-security-token", TOKEN), *extra]
    headers.sort()
    names = ";".join(n for n, _ in headers)
    canon = "\n".join([method, path, query, *(f"{n}:{v}" for n, v in headers), "", names,
                       hashlib.sha256(body.encode()).hexdigest()])
    scope = f"{DAY}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", DATE, scope, hashlib.sha256(canon.encode()).hexdigest()])
    key = h(h(h(h(("AWS4" + SECRET).encode(), DAY), region), service), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    auth = f"AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={names}, Signature={sig}"
    target = path + ("?" + query if query else "")
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in headers), f"Authorization: {auth}"]
    return "\n".join(lines) + "\n\n" + body


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "sts_get_caller_identity": signed("POST", "/", "", "sts.amazonaws.com", "us-east-1", "sts",
                                          "Action=GetCallerIdentity&Version=2011-06-15"),
        "sts_regional": signed("POST", "/", "", "sts.us-west-2.amazonaws.com", "us-west-2", "sts",
                               "Action=GetCallerIdentity&Version=2011-06-15"),
        "iam_get_role": signed("POST", "/", "", "iam.amazonaws.com", "us-east-1", "iam",
                               "Action=GetRole&RoleName=web-task&Version=2010-05-08"),
        "iam_get_user_query": signed("GET", "/", "Action=GetUser&Version=2010-05-08",
                                     "iam.amazonaws.com", "us-east-1", "iam", ""),
        "sts_server_id": signed("POST", "/", "", "sts.amazonaws.com", "us-east-1", "sts",
                                "Action=GetCallerIdentity&Version=2011-06-15",
                                extra=[("x-consul-iam-server-id", "consul.example.com")]),
        "unsigned": "POST / HTTP/1.1\nHost: sts.amazonaws.com\n\nAction=GetCallerIdentity&Version=2011-06-15",
        "bad_escape": "POST / HTTP/1.1\nHost: sts.amazonaws.com\n\nAction=Get%zzCallerIdentity&Version=%",
    }
    for name, text in seeds.items():
        with open(os.path.join(OUT, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
