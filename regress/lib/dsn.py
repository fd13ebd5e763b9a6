"""
dsn.py: take apart a delivery status notification (RFC 3464) that a sink
received, so tests can assert on its fields rather than on its wording.

parse(data) returns a Dsn with
  .top            the top-level message (email.message.Message)
  .report_type    "delivery-status" for a proper DSN
  .status_type    content type of the second part ("message/delivery-status",
                  or RFC 6533's "message/global-delivery-status")
  .per_message    {lowercase field: value} (Reporting-MTA, Original-Envelope-Id)
  .recipients     [{lowercase field: value}] (Final-Recipient, Action, ...)
  .returned_type  content type of the third part ("message/rfc822",
                  "text/rfc822-headers", "message/global",
                  "message/global-headers") or None
  .returned       the returned content as bytes (headers, or the message)
  .human          the text of the first, human-readable part
"""
import email
import email.policy


class Dsn:
    pass


def _fields(block):
    return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}


def parse(data):
    d = Dsn()
    top = email.message_from_bytes(data, policy=email.policy.compat32)
    d.top = top
    d.content_type = top.get_content_type()
    d.report_type = (top.get_param("report-type") or "").lower()
    d.per_message = {}
    d.recipients = []
    d.status_type = None
    d.returned_type = None
    d.returned = None
    d.human = ""
    parts = top.get_payload() if top.is_multipart() else []
    for i, part in enumerate(parts):
        ctype = part.get_content_type()
        if i == 0 and ctype.startswith("text/"):
            d.human = part.get_payload(decode=True).decode("utf-8",
                                                           "replace")
        elif ctype in ("message/delivery-status",
                       "message/global-delivery-status"):
            d.status_type = ctype
            blocks = part.get_payload()
            if ctype == "message/global-delivery-status":
                blocks = _blocks_from_text(_global_text(part))
            elif isinstance(blocks, str):
                blocks = _blocks_from_text(blocks)
            if blocks:
                d.per_message = _fields(blocks[0])
                d.recipients = [_fields(b) for b in blocks[1:]]
        elif ctype in ("message/rfc822", "text/rfc822-headers",
                       "message/global", "message/global-headers"):
            d.returned_type = ctype
            if ctype.startswith("message/") and part.is_multipart():
                d.returned = part.get_payload(0).as_bytes()
            else:
                d.returned = part.get_payload(decode=True)
    return d


def _global_text(part):
    """The UTF-8 text of a message/global-delivery-status part, which the
    parser takes for an encapsulated message."""
    payload = part.get_payload()
    if isinstance(payload, list):
        raw = payload[0].as_bytes() if payload else b""
    else:
        raw = part.get_payload(decode=True) or b""
    return raw.decode("utf-8", "replace")


def _blocks_from_text(text):
    """Delivery-status blocks when the parser left them as one string."""
    out = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        if chunk.strip():
            out.append(email.message_from_string(chunk + "\n"))
    return out
