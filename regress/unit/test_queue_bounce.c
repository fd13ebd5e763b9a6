/*
 * test_queue_bounce.c: the DSNs the queue writes have the RFC 3464
 * structure, return what RET asks for, and NOTIFY decides which are sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "queue_bounce.h"
#include "unit.h"
#include "util.h"

#define FROM	"From: Mail Delivery System <MAILER-DAEMON@relay.example.com>\r\n"
#define ORIG	"Subject: hello\r\nFrom: <alice@example.org>\r\n\r\nbody line one\r\n" \
		"body line two\r\n"

static void
sample(struct envelope *e, const char *rcpt, const char *orcpt)
{
	memset(e, 0, sizeof(*e));
	e->msgid = 0x0badcafe;
	e->id = ((uint64_t)e->msgid << 32) | 1;
	(void)strlcpy(e->sender, "alice@example.org", sizeof(e->sender));
	(void)strlcpy(e->rcpt, rcpt, sizeof(e->rcpt));
	(void)strlcpy(e->orcpt, orcpt, sizeof(e->orcpt));
	(void)strlcpy(e->envid, "ENV42", sizeof(e->envid));
	(void)strlcpy(e->last_error, "550 5.1.1 no such user",
	    sizeof(e->last_error));
	e->ctime = 1700000000;
}

/* Compose a DSN into a string (caller frees). */
static char *
compose(enum bounce_action act, struct envelope *evs, size_t n)
{
	struct bounce_rcpt	 r[4];
	struct bounce_info	 bi;
	FILE			*orig, *out;
	char			*buf = NULL;
	size_t			 len = 0, i;
	int			 rc;

	orig = fmemopen((void *)(uintptr_t)ORIG, strlen(ORIG), "r");
	out = open_memstream(&buf, &len);
	for (i = 0; i < n; i++) {
		r[i].evp = &evs[i];
		r[i].status = act == BOUNCE_FAILED ? "5.1.1" :
		    act == BOUNCE_DELAYED ? "4.4.1" : "2.0.0";
		r[i].relay = "mx.example.net [198.51.100.7]";
		r[i].diagnostic = evs[i].last_error;
		r[i].last_attempt = 1700000100;
	}
	memset(&bi, 0, sizeof(bi));
	bi.action = act;
	bi.hostname = "relay.example.com";
	bi.to = "alice@example.org";
	bi.msgid = 0x0badcafe;
	bi.newmsgid = 0x12345678;
	bi.now = 1700000200;
	bi.retry_until = 1700432000;
	bi.boundary = "BOUNDARY.1/dsn";
	rc = queue_bounce_write(out, &bi, r, n, orig);
	(void)fclose(out);
	(void)fclose(orig);
	if (rc == -1) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
count(const char *s, const char *needle)
{
	int	 n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void
test_full(void)
{
	struct envelope	 e[2];
	char		*d;

	sample(&e[0], "bob@example.net", "rfc822;bob@example.net");
	sample(&e[1], "carol@example.net", "");
	d = compose(BOUNCE_FAILED, e, 2);
	UNIT_CHECK(d != NULL, "failure DSN written");
	if (d == NULL)
		return;
	UNIT_CHECK(strncmp(d, FROM, strlen(FROM)) == 0, "From line");
	UNIT_CHECK(strstr(d, "\r\nTo: <alice@example.org>\r\n") != NULL, "To");
	UNIT_CHECK(strstr(d, "Content-Type: multipart/report; "
	    "report-type=delivery-status;") != NULL, "multipart/report");
	UNIT_CHECK(strstr(d, "Content-Type: message/delivery-status\r\n")
	    != NULL, "delivery-status part");
	UNIT_CHECK(strstr(d, "Reporting-MTA: dns; relay.example.com\r\n")
	    != NULL, "Reporting-MTA");
	UNIT_CHECK(strstr(d, "Original-Envelope-Id: ENV42\r\n") != NULL,
	    "ENVID reported");
	UNIT_CHECK(strstr(d, "Arrival-Date: ") != NULL, "Arrival-Date");
	UNIT_CHECK(count(d, "Final-Recipient: rfc822; ") == 2,
	    "one block per recipient");
	UNIT_CHECK(count(d, "Original-Recipient: rfc822;bob@example.net\r\n")
	    == 1 && count(d, "Original-Recipient:") == 1,
	    "ORCPT only where given");
	UNIT_CHECK(count(d, "Action: failed\r\n") == 2, "Action failed");
	UNIT_CHECK(count(d, "Status: 5.1.1\r\n") == 2, "Status");
	UNIT_CHECK(strstr(d, "Remote-MTA: dns; mx.example.net\r\n") != NULL,
	    "Remote-MTA host only");
	UNIT_CHECK(strstr(d, "Diagnostic-Code: smtp; 550 5.1.1 no such user")
	    != NULL, "Diagnostic-Code");
	UNIT_CHECK(strstr(d, "Last-Attempt-Date: ") != NULL,
	    "Last-Attempt-Date");
	UNIT_CHECK(strstr(d, "Will-Retry-Until") == NULL,
	    "no Will-Retry-Until on failure");
	UNIT_CHECK(strstr(d, "Content-Type: message/rfc822\r\n") != NULL &&
	    strstr(d, "body line two\r\n") != NULL, "RET unset: full message");
	UNIT_CHECK(strstr(d, "\r\n--BOUNDARY.1/dsn--\r\n") != NULL,
	    "closing boundary");
	UNIT_CHECK(strstr(d, "global") == NULL && strstr(d, "utf-8;") == NULL,
	    "an ASCII message: no RFC 6533 types");
	free(d);
}

static void
test_hdrs(void)
{
	struct envelope	 e;
	char		*d;

	sample(&e, "bob@example.net", "");
	e.ret = DSN_RET_HDRS;
	d = compose(BOUNCE_FAILED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Content-Type: text/rfc822-headers")
	    != NULL, "RET=HDRS: headers part");
	UNIT_CHECK(d != NULL && strstr(d, "Subject: hello\r\n") != NULL &&
	    strstr(d, "body line") == NULL, "RET=HDRS: no body");
	UNIT_CHECK(d != NULL && strstr(d, "Original-Recipient") == NULL,
	    "no ORCPT, no Original-Recipient");
	free(d);
	e.ret = DSN_RET_FULL;
	e.envid[0] = '\0';
	d = compose(BOUNCE_FAILED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "body line one") != NULL &&
	    strstr(d, "Original-Envelope-Id") == NULL,
	    "RET=FULL returns the body; no ENVID, no field");
	free(d);
}

static void
test_delayed_relayed(void)
{
	struct envelope	 e;
	char		*d;

	sample(&e, "bob@example.net", "");
	d = compose(BOUNCE_DELAYED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Action: delayed\r\n") != NULL &&
	    strstr(d, "Status: 4.4.1\r\n") != NULL &&
	    strstr(d, "Will-Retry-Until: ") != NULL, "delayed DSN");
	UNIT_CHECK(d != NULL && strstr(d, "body line") == NULL,
	    "delayed DSN returns headers only");
	free(d);
	d = compose(BOUNCE_RELAYED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Action: relayed\r\n") != NULL &&
	    strstr(d, "Status: 2.0.0\r\n") != NULL &&
	    strstr(d, "(Relayed)") != NULL, "relayed DSN");
	free(d);
}

/* A success notice for the local mailer says "delivered" (RFC 3464). */
static void
test_delivered(void)
{
	struct envelope	 e[2];
	char		*d;

	sample(&e[0], "bob", "");
	e[0].mailer = TARGET_MAILBOX;
	d = compose(BOUNCE_RELAYED, e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Action: delivered\r\n") != NULL &&
	    strstr(d, "Action: relayed") == NULL &&
	    strstr(d, "(Success)") != NULL &&
	    strstr(d, "was delivered to the following") != NULL,
	    "local delivery: delivered");
	free(d);
	sample(&e[1], "carol@example.net", "");
	d = compose(BOUNCE_RELAYED, e, 2);
	UNIT_CHECK(d != NULL && strstr(d, "Action: delivered\r\n") != NULL &&
	    strstr(d, "Action: relayed\r\n") != NULL &&
	    strstr(d, "(Relayed)") != NULL, "mixed: one of each");
	free(d);
}

#define USER_CN	"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.test"

/* RFC 6533: a UTF-8 recipient makes the DSN a global one. */
static void
test_global_rcpt(void)
{
	struct envelope	 e[2];
	char		*d;

	sample(&e[0], USER_CN, "utf-8;" USER_CN);
	e[0].ret = DSN_RET_HDRS;
	sample(&e[1], "carol@example.net", "rfc822;carol@example.net");
	d = compose(BOUNCE_FAILED, e, 2);
	UNIT_CHECK(d != NULL, "global DSN written");
	if (d == NULL)
		return;
	UNIT_CHECK(strstr(d, "Content-Type: multipart/report; "
	    "report-type=global-delivery-status;") != NULL,
	    "report-type global-delivery-status");
	UNIT_CHECK(strstr(d, "\r\nContent-Type: message/global-delivery-status"
	    "\r\n\r\nReporting-MTA: dns; relay.example.com\r\n") != NULL,
	    "message/global-delivery-status part");
	UNIT_CHECK(strstr(d, "Original-Recipient: utf-8;" USER_CN "\r\n"
	    "Final-Recipient: utf-8; " USER_CN "\r\n") != NULL,
	    "the UTF-8 address as utf-8-address");
	UNIT_CHECK(strstr(d, "Original-Recipient: rfc822;carol@example.net\r\n"
	    "Final-Recipient: rfc822; carol@example.net\r\n") != NULL,
	    "an ASCII one stays rfc822");
	UNIT_CHECK(strstr(d, "Content-Type: message/global-headers\r\n") !=
	    NULL && strstr(d, "body line") == NULL,
	    "RET=HDRS: message/global-headers");
	UNIT_CHECK(strstr(d, "<" USER_CN ">: 550 5.1.1") != NULL,
	    "named in the human-readable part");
	free(d);
}

/* An 8-bit header alone: global parts, the whole message returned. */
static void
test_global_header(void)
{
	struct envelope	 e;
	char		*d;

	sample(&e, "bob@example.net", "");
	e.utf8 = UTF8_F_HEADERS;
	d = compose(BOUNCE_FAILED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Content-Type: "
	    "message/global-delivery-status\r\n") != NULL &&
	    strstr(d, "Final-Recipient: rfc822; bob@example.net\r\n") != NULL,
	    "8-bit header: global status, rfc822 address");
	UNIT_CHECK(d != NULL && strstr(d, "Content-Type: message/global\r\n")
	    != NULL && strstr(d, "body line two\r\n") != NULL,
	    "8-bit header: message/global with the body");
	free(d);
	sample(&e, "bob@example.net", "");
	(void)strlcpy(e.sender, "j\xc3\xb6rg@example.org", sizeof(e.sender));
	e.ret = DSN_RET_HDRS;
	d = compose(BOUNCE_DELAYED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Content-Type: "
	    "message/global-headers\r\n") != NULL,
	    "UTF-8 sender: message/global-headers");
	free(d);
}

/* A local UTF-8 target: utf-8 in Final- and X-Actual-Recipient. */
static void
test_global_local(void)
{
	struct envelope	 e;
	char		*d;

	sample(&e, "j\xc3\xb6rg", "");
	e.mailer = TARGET_MAILBOX;
	d = compose(BOUNCE_FAILED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Final-Recipient: utf-8; "
	    "j\xc3\xb6rg@relay.example.com\r\nX-Actual-Recipient: utf-8; "
	    "j\xc3\xb6rg\r\n") != NULL, "local target typed utf-8");
	free(d);
}

/* A utf-8 ORCPT in an ASCII DSN goes as utf-8-addr-xtext. */
static void
test_orcpt_xtext(void)
{
	struct envelope	 e;
	char		*d;

	sample(&e, "a+b@example.net", "utf-8;a+b\\c@example.net");
	d = compose(BOUNCE_FAILED, &e, 1);
	UNIT_CHECK(d != NULL && strstr(d, "Content-Type: "
	    "message/delivery-status\r\n") != NULL &&
	    strstr(d, "Original-Recipient: utf-8;a\\x{2B}b\\x{5C}c"
	    "@example.net\r\n") != NULL, "ASCII DSN: utf-8-addr-xtext");
	free(d);
}

static void
test_wanted(void)
{
	struct envelope	 e;

	sample(&e, "bob@example.net", "");
	e.notify = 0;
	UNIT_CHECK(queue_bounce_wanted(&e, BOUNCE_FAILED) &&
	    queue_bounce_wanted(&e, BOUNCE_DELAYED) &&
	    !queue_bounce_wanted(&e, BOUNCE_RELAYED),
	    "no NOTIFY: failure and delay");
	e.notify = DSN_NOTIFY_NEVER;
	UNIT_CHECK(!queue_bounce_wanted(&e, BOUNCE_FAILED) &&
	    !queue_bounce_wanted(&e, BOUNCE_DELAYED) &&
	    !queue_bounce_wanted(&e, BOUNCE_RELAYED), "NOTIFY=NEVER: none");
	e.notify = DSN_NOTIFY_SUCCESS;
	UNIT_CHECK(!queue_bounce_wanted(&e, BOUNCE_FAILED) &&
	    !queue_bounce_wanted(&e, BOUNCE_DELAYED) &&
	    queue_bounce_wanted(&e, BOUNCE_RELAYED),
	    "NOTIFY=SUCCESS: relayed only");
	e.notify = DSN_NOTIFY_FAILURE;
	UNIT_CHECK(queue_bounce_wanted(&e, BOUNCE_FAILED) &&
	    !queue_bounce_wanted(&e, BOUNCE_DELAYED),
	    "NOTIFY=FAILURE: no delay DSN");
}

int
main(void)
{
	test_full();
	test_hdrs();
	test_delayed_relayed();
	test_delivered();
	test_global_rcpt();
	test_global_header();
	test_global_local();
	test_orcpt_xtext();
	test_wanted();
	return unit_done();
}
