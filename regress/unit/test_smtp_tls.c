/*
 * test_smtp_tls.c: the session facts STARTTLS changes: whether EHLO
 * offers STARTTLS (per listener and TLS state), the protocol word of
 * Received: (SMTP, ESMTP, ESMTPS) and sendmail's TLS clause.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp_session.h"
#include "unit.h"

static void
test_offered(void)
{
	struct smtp_session	 s;

	memset(&s, 0, sizeof(s));
	UNIT_CHECK(!smtp_tls_offered(&s), "plain listener: no STARTTLS");
	s.lflags = LISTEN_F_TLS;
	UNIT_CHECK(smtp_tls_offered(&s), "tls listener: STARTTLS");
	s.lflags = LISTEN_F_TLS_REQUIRE;
	UNIT_CHECK(smtp_tls_offered(&s), "tls-require listener: STARTTLS");
	s.lflags = LISTEN_F_SMTPS;
	UNIT_CHECK(!smtp_tls_offered(&s), "smtps listener: no STARTTLS");
	s.lflags = LISTEN_F_TLS;
	s.tls_state = SMTP_TLS_ON;
	UNIT_CHECK(!smtp_tls_offered(&s), "TLS on: no STARTTLS");
	s.tls_state = SMTP_TLS_PREPARING;
	UNIT_CHECK(!smtp_tls_offered(&s), "TLS starting: no STARTTLS");
}

static void
test_received(void)
{
	struct smtp_session	 s;
	struct smtp_tls		 t;
	char			 buf[256];

	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	UNIT_CHECK(strcmp(smtp_session_proto(&s), "SMTP") == 0, "HELO: SMTP");
	s.esmtp = 1;
	UNIT_CHECK(strcmp(smtp_session_proto(&s), "ESMTP") == 0,
	    "EHLO: ESMTP");
	smtp_tls_received(&s, buf, sizeof(buf));
	UNIT_CHECK(buf[0] == '\0', "no TLS: no clause");

	(void)strlcpy(t.protocol, "TLSv1.3", sizeof(t.protocol));
	(void)strlcpy(t.cipher, "TLS_AES_256_GCM_SHA384", sizeof(t.cipher));
	t.bits = 256;
	(void)strlcpy(t.verify, "NOT", sizeof(t.verify));
	s.tls = &t;
	s.tls_state = SMTP_TLS_ON;
	UNIT_CHECK(strcmp(smtp_session_proto(&s), "ESMTPS") == 0,
	    "EHLO over TLS: ESMTPS");
	smtp_tls_received(&s, buf, sizeof(buf));
	UNIT_CHECK(strcmp(buf, "\r\n\t(version=TLSv1.3 cipher="
	    "TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)") == 0,
	    "TLS clause in sendmail's shape");
	smtp_tls_received(&s, buf, 20);
	UNIT_CHECK(strlen(buf) == 19, "TLS clause truncated, terminated");
	s.esmtp = 0;
	UNIT_CHECK(strcmp(smtp_session_proto(&s), "SMTP") == 0,
	    "HELO over TLS: SMTP");
}

int
main(void)
{
	test_offered();
	test_received();
	return unit_done();
}
