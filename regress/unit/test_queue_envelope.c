/*
 * test_queue_envelope.c: the envelope text format round-trips, refuses to
 * write injected fields, and its loader rejects every malformed,
 * truncated or tampered file; MAIL's AUTH= ("auth") is kept, and a file
 * written before that field existed reads as "<>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "queue_envelope.h"
#include "unit.h"
#include "util.h"

static void
sample(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->msgid = 0x1234abcd;
	e->id = ((uint64_t)e->msgid << 32) | 0x00c0ffee;
	e->type = ENVELOPE_RELAY;
	(void)strlcpy(e->sender, "alice@example.org", sizeof(e->sender));
	(void)strlcpy(e->rcpt, "Bob%x@Example.NET", sizeof(e->rcpt));
	(void)strlcpy(e->orcpt, "rfc822;bob@example.net", sizeof(e->orcpt));
	e->notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;
	e->ret = DSN_RET_HDRS;
	(void)strlcpy(e->envid, "ENV+2B1", sizeof(e->envid));
	(void)strlcpy(e->helo, "client.example.org", sizeof(e->helo));
	(void)strlcpy(e->client_addr, "192.0.2.1", sizeof(e->client_addr));
	(void)strlcpy(e->client_name, "client.example.org",
	    sizeof(e->client_name));
	(void)strlcpy(e->proto, "ESMTP", sizeof(e->proto));
	(void)strlcpy(e->auth, "alice+x=y@example.org", sizeof(e->auth));
	e->body = 1;
	e->size = 12345;
	e->ctime = 1700000000;
	e->lasttry = 1700000300;
	e->nexttry = 1700000900;
	e->retries = 2;
	e->flags = ENVELOPE_F_DELAY_SENT;
	(void)strlcpy(e->last_status, "4.2.0", sizeof(e->last_status));
	(void)strlcpy(e->last_error, "451 4.2.0 try 100% later",
	    sizeof(e->last_error));
	(void)strlcpy(e->last_relay, "mx.example.net [198.51.100.7]",
	    sizeof(e->last_relay));
	(void)strlcpy(e->domain, "example.net", sizeof(e->domain));
}

static int
loads(const char *text)
{
	struct envelope	 e;
	const char	*why;

	return queue_envelope_load(&e, text, strlen(text), &why) == 0;
}

/* Replace the first occurrence of a line prefix in a dump. */
static int
loads_with(const char *dump, const char *from, const char *to)
{
	char		 buf[ENVELOPE_TEXT_MAX * 2];
	const char	*p = strstr(dump, from);

	if (p == NULL)
		return -1;
	(void)snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - dump), dump,
	    to, p + strlen(from));
	return loads(buf);
}

static void
test_roundtrip(void)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX], buf2[ENVELOPE_TEXT_MAX];
	const char	*why;
	int		 n, n2;

	sample(&e);
	n = queue_envelope_dump(&e, buf, sizeof(buf));
	UNIT_CHECK(n > 0, "dump of a valid envelope");
	UNIT_CHECK(strncmp(buf, "version: 1\n", 11) == 0, "version first");
	UNIT_CHECK(strstr(buf, "rcpt: Bob%25x@Example.NET\n") != NULL,
	    "percent escaped");
	UNIT_CHECK(strstr(buf, "notify: failure,delay\n") != NULL,
	    "notify as names");
	UNIT_CHECK(queue_envelope_load(&back, buf, (size_t)n, &why) == 0,
	    "load of the dump");
	UNIT_CHECK(strcmp(back.rcpt, e.rcpt) == 0 &&
	    strcmp(back.last_error, e.last_error) == 0 &&
	    back.id == e.id && back.size == e.size &&
	    back.nexttry == e.nexttry && back.flags == e.flags &&
	    back.notify == e.notify && back.ret == e.ret && back.body == 1,
	    "fields survive the round trip");
	n2 = queue_envelope_dump(&back, buf2, sizeof(buf2));
	UNIT_CHECK(n2 == n && memcmp(buf, buf2, (size_t)n) == 0,
	    "dump(load(dump)) is identical");

	e.sender[0] = '\0';
	e.notify = 0;
	e.orcpt[0] = '\0';
	n = queue_envelope_dump(&e, buf, sizeof(buf));
	UNIT_CHECK(n > 0 && strstr(buf, "\nsender:\n") != NULL &&
	    queue_envelope_load(&back, buf, (size_t)n, &why) == 0 &&
	    back.sender[0] == '\0' && back.notify == 0,
	    "empty sender and notify round trip");
}

static void
test_injection(void)
{
	struct envelope	 e;
	char		 buf[ENVELOPE_TEXT_MAX];

	sample(&e);
	(void)strlcpy(e.rcpt, "bob@example.net\nrcpt: evil@evil.example",
	    sizeof(e.rcpt));
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "LF in rcpt refused by dump");
	sample(&e);
	(void)strlcpy(e.sender, "a@b.example\r\nX: y", sizeof(e.sender));
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "CRLF in sender refused by dump");
	sample(&e);
	(void)strlcpy(e.helo, "h\x01", sizeof(e.helo));
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "control octet in helo refused");
	sample(&e);
	queue_envelope_text_set(e.last_error, sizeof(e.last_error),
	    "550 no\r\nnext-try: 0");
	UNIT_CHECK(strchr(e.last_error, '\n') == NULL &&
	    strchr(e.last_error, '\r') == NULL, "remote text blanked");
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) > 0 &&
	    strstr(buf, "\nnext-try: 0\n") == NULL,
	    "remote text cannot add a line");
	sample(&e);
	(void)strlcpy(e.domain, "other.example", sizeof(e.domain));
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "domain must match rcpt");
	sample(&e);
	e.id = ((uint64_t)0x11111111 << 32) | 5;
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "evpid must carry msgid");
	sample(&e);
	e.notify = DSN_NOTIFY_NEVER | DSN_NOTIFY_FAILURE;
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "NEVER with other notify bits refused");
	UNIT_CHECK(!queue_envelope_rcpt_valid("") &&
	    !queue_envelope_rcpt_valid("nodomain") &&
	    !queue_envelope_rcpt_valid("a@") &&
	    !queue_envelope_rcpt_valid("<a@b.example>") &&
	    queue_envelope_rcpt_valid("a@b.example") &&
	    queue_envelope_sender_valid(""), "address checks");
}

static void
test_malformed(void)
{
	struct envelope	 e;
	char		 buf[ENVELOPE_TEXT_MAX];
	size_t		 i;
	int		 n, bad = 0;

	sample(&e);
	n = queue_envelope_dump(&e, buf, sizeof(buf));
	for (i = 0; i < (size_t)n; i++) {
		struct envelope	 x;
		const char	*why;

		if (queue_envelope_load(&x, buf, i, &why) == 0)
			bad++;
	}
	UNIT_CHECK(bad == 0, "every truncation of a dump is rejected");
	UNIT_CHECK(loads_with(buf, "version: 1\n", "version: 2\n") == 0,
	    "unknown version rejected");
	UNIT_CHECK(loads_with(buf, "rcpt: Bob%25x", "rcpt: Bob%0D%0Ax") == 0,
	    "escaped CRLF in rcpt rejected");
	UNIT_CHECK(loads_with(buf, "last-error: 451",
	    "last-error: 451\r") == 0, "raw CR rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n",
	    "retries: 2\nretries: 3\n") == 0, "repeated key rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n",
	    "retries: 2\nfoo: bar\n") == 0, "unknown key rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n", "retries: 02\n") == 0,
	    "leading zero rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n", "retries: -2\n") == 0,
	    "negative number rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n", "retries:2\n") == 0,
	    "missing blank rejected");
	UNIT_CHECK(loads_with(buf, "id: 1234abcd00c0ffee",
	    "id: 1234ABCD00C0FFEE") == 0, "uppercase id rejected");
	UNIT_CHECK(loads_with(buf, "type: relay", "type: local") == 0,
	    "unknown type rejected");
	UNIT_CHECK(loads_with(buf, "domain: example.net",
	    "domain: evil.example") == 0, "domain mismatch rejected");
	UNIT_CHECK(loads_with(buf, "envid: ENV+2B1", "envid: E%zz") == 0,
	    "bad escape rejected");
	UNIT_CHECK(loads_with(buf, "envid: ENV+2B1", "envid: E%00") == 0,
	    "escaped NUL rejected");
	UNIT_CHECK(loads_with(buf, "notify: failure,delay",
	    "notify: failure,") == 0, "trailing comma rejected");
	UNIT_CHECK(loads("") == 0 && loads("\n\n\n") == 0 &&
	    loads("garbage\x01\x02\xff") == 0, "garbage rejected");
	UNIT_CHECK(loads_with(buf, "retries: 2\n", "retries: 2") > -1,
	    "helper sanity");
	UNIT_CHECK(loads(buf) == 1, "the untouched dump still loads");
}

/* Remove the line that starts with prefix from a dump; its length. */
static size_t
drop_line(char *buf, const char *prefix)
{
	char	*p = strstr(buf, prefix), *nl;

	if (p != NULL && (nl = strchr(p, '\n')) != NULL)
		memmove(p, nl + 1, strlen(nl + 1) + 1);
	return strlen(buf);
}

static void
test_auth(void)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX];
	const char	*why = "";
	size_t		 n;

	sample(&e);
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) > 0 &&
	    strstr(buf, "\nauth: alice+x=y@example.org\n") != NULL,
	    "auth written as the decoded mailbox");
	UNIT_CHECK(queue_envelope_load(&back, buf, strlen(buf), &why) == 0 &&
	    strcmp(back.auth, "alice+x=y@example.org") == 0,
	    "auth survives the round trip");
	n = drop_line(buf, "auth: ");
	UNIT_CHECK(strstr(buf, "auth:") == NULL &&
	    queue_envelope_load(&back, buf, n, &why) == 0 &&
	    strcmp(back.auth, "<>") == 0,
	    "an envelope of the previous version reads as auth <>");
	n = drop_line(buf, "rcpt: ");
	UNIT_CHECK(queue_envelope_load(&back, buf, n, &why) == -1 &&
	    strcmp(why, "missing field") == 0,
	    "a required field is still required");
	sample(&e);
	e.auth[0] = '\0';
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "empty auth refused by dump");
	(void)strlcpy(e.auth, "a@b\r\nrcpt: evil@evil.example",
	    sizeof(e.auth));
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) == -1,
	    "CRLF in auth refused by dump");
	sample(&e);
	(void)queue_envelope_dump(&e, buf, sizeof(buf));
	UNIT_CHECK(loads_with(buf, "auth: alice+x=y@example.org\n",
	    "auth:\n") == 0, "empty auth line rejected");
	UNIT_CHECK(loads_with(buf, "auth: alice", "auth: %0Aalice") == 0,
	    "escaped LF in auth rejected");
	UNIT_CHECK(loads_with(buf, "auth: alice+x=y@example.org\n",
	    "auth: <>\nauth: <>\n") == 0, "repeated auth rejected");
	UNIT_CHECK(loads_with(buf, "auth: alice+x=y@example.org\n",
	    "auth: <>\n") == 1, "auth <> loads");
}

/* The optional quarantine field: written only when held, kept across a
 * load, and an envelope without it (an older file) is not held. */
static void
test_quarantine(void)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX], held[ENVELOPE_TEXT_MAX];
	const char	*why;
	int		 n, h;

	sample(&e);
	n = queue_envelope_dump(&e, buf, sizeof(buf));
	UNIT_CHECK(n > 0 && strstr(buf, "quarantine") == NULL,
	    "no quarantine line for an envelope that is not held");
	UNIT_CHECK(queue_envelope_load(&back, buf, (size_t)n, &why) == 0 &&
	    back.quarantine[0] == '\0', "an envelope without it is not held");
	(void)strlcpy(e.quarantine, "Held 100% for review",
	    sizeof(e.quarantine));
	h = queue_envelope_dump(&e, held, sizeof(held));
	UNIT_CHECK(h > 0 && strstr(held,
	    "\nquarantine: Held 100%25 for review\n") != NULL,
	    "a held envelope has its reason, escaped");
	UNIT_CHECK(queue_envelope_load(&back, held, (size_t)h, &why) == 0 &&
	    strcmp(back.quarantine, "Held 100% for review") == 0,
	    "the reason survives a load");
	UNIT_CHECK(loads_with(held, "quarantine: Held", "quarantine: H%0Ald")
	    == 0, "a reason with a line break is refused");
	(void)strlcpy(e.quarantine, "a\nb", sizeof(e.quarantine));
	UNIT_CHECK(queue_envelope_dump(&e, held, sizeof(held)) == -1,
	    "an injected reason is not written");
}

/* user and depth: a program of a .forward, and files without them */
static void
test_user_depth(void)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX];
	const char	*why = "";
	size_t		 n;

	sample(&e);
	e.mailer = TARGET_PROGRAM;
	(void)strlcpy(e.rcpt, "|/usr/bin/vacation bob", sizeof(e.rcpt));
	e.domain[0] = '\0';
	(void)strlcpy(e.user, "bob", sizeof(e.user));
	e.depth = 2;
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) > 0 &&
	    strstr(buf, "\nuser: bob\n") != NULL &&
	    strstr(buf, "\ndepth: 2\n") != NULL,
	    "user and depth written");
	UNIT_CHECK(queue_envelope_load(&back, buf, strlen(buf), &why) == 0 &&
	    strcmp(back.user, "bob") == 0 && back.depth == 2,
	    "user and depth survive the round trip");
	(void)drop_line(buf, "user: ");
	n = drop_line(buf, "depth: ");
	UNIT_CHECK(queue_envelope_load(&back, buf, n, &why) == 0 &&
	    back.user[0] == '\0' && back.depth == 0,
	    "an envelope of the previous version: no user, depth 0");
	UNIT_CHECK(loads_with(buf, "flags:", "user: ../x\nflags:") == 0 &&
	    loads_with(buf, "flags:", "user: a/b\nflags:") == 0 &&
	    loads_with(buf, "flags:", "depth: 101\nflags:") == 0,
	    "a user with a slash or a dot first, a depth past 100: rejected");
	sample(&e);
	e.mailer = TARGET_MAILBOX;
	(void)strlcpy(e.rcpt, "\\bob", sizeof(e.rcpt));
	e.domain[0] = '\0';
	UNIT_CHECK(queue_envelope_dump(&e, buf, sizeof(buf)) > 0,
	    "a mailbox marked \\bob is valid");
}

int
main(void)
{
	test_roundtrip();
	test_injection();
	test_malformed();
	test_auth();
	test_user_depth();
	test_quarantine();
	return unit_done();
}
