/*
 * parent_pki.c: the TLS certificates, keys and CA certificates, read by
 * the root parent and given to tlsproxy only.
 *
 * tlsproxy is confined from its start and cannot open the key files, so
 * the parent reads every "pki" certificate chain and key, the "ca file"
 * and the certificates of the hashed "ca path" (names like 1a2b3c4d.0)
 * into memory, at start and at every reload, and sends them to tlsproxy
 * alone (proto.h: IMSG_TLS_PKI_BEGIN, IMSG_TLS_PKI, IMSG_TLS_PKI_CA,
 * IMSG_TLS_PKI_END).  No other child ever receives them.
 *
 * Interface (parent.h):
 *   parent_pki_load(conf, err)  read everything; on success the new set
 *                               replaces the one held, else nothing
 *                               changes and err says why
 *   parent_pki_send()           send the held set to tlsproxy
 *   parent_pki_free()           wipe and free the held set
 *
 * Failure: a missing, unreadable, oversized or non-PEM file, a
 * certificate or key that does not parse, or a key that is not the
 * certificate's fails the load with the pki's name, the file and the
 * reason on one line (the config is then refused: at start, by "smtpd
 * -n", and by a reload, which keeps the old set); a key file readable by
 * other users is accepted with a warning.  The parent parses the PEM
 * only to check it (libcrypto, no handshake code); tlsproxy builds the
 * set again and keeps its old one if the new one does not build.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "parent.h"

/* a certificate chain or a key, each under half an imsg */
#define PKI_FILE_MAX		(120 * 1024)
#define PKI_CA_MAX		(16 * 1024 * 1024)
/* CA text per IMSG_TLS_PKI_CA */
#define PKI_CA_CHUNK		(128 * 1024)
#define PKI_CERT_END		"-----END CERTIFICATE-----"

struct pki_blob {
	char	*data;
	size_t	 len;
};

struct pki_item {
	char		 name[CONF_PKI_NAME_MAX];
	struct pki_blob	 cert;
	struct pki_blob	 key;
};

struct pki_set {
	struct pki_item	*items;
	size_t		 n;
	struct pki_blob	 ca;
};

static struct pki_set	 held;

static void
parent_pki_blob_wipe(struct pki_blob *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static void
parent_pki_set_wipe(struct pki_set *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		parent_pki_blob_wipe(&s->items[i].cert);
		parent_pki_blob_wipe(&s->items[i].key);
	}
	free(s->items);
	parent_pki_blob_wipe(&s->ca);
	memset(s, 0, sizeof(*s));
}

void
parent_pki_free(void)
{
	parent_pki_set_wipe(&held);
}

/* Read a whole regular file of at most max octets; -1 and err if not. */
static int
parent_pki_read(const char *path, size_t max, struct pki_blob *b,
    struct stat *st, char *err, size_t errlen)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, st) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode) || st->st_size <= 0 ||
	    (size_t)st->st_size > max) {
		(void)snprintf(err, errlen, "%s: not a regular file of 1 to "
		    "%zu octets", path, max);
		(void)close(fd);
		return -1;
	}
	if ((b->data = malloc((size_t)st->st_size + 1)) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", path);
		(void)close(fd);
		return -1;
	}
	n = read(fd, b->data, (size_t)st->st_size);
	(void)close(fd);
	if (n != st->st_size) {
		(void)snprintf(err, errlen, "%s: short read", path);
		parent_pki_blob_wipe(b);
		return -1;
	}
	b->len = (size_t)n;
	b->data[b->len] = '\0';
	return 0;
}

/* Read a PEM file that must contain marker. */
static int
parent_pki_read_pem(const char *path, const char *marker,
    struct pki_blob *b, int secret, char *err, size_t errlen)
{
	struct stat	 st;

	if (parent_pki_read(path, PKI_FILE_MAX, b, &st, err, errlen) == -1)
		return -1;
	if (strstr(b->data, marker) == NULL) {
		(void)snprintf(err, errlen, "%s: no \"%s\" in it", path,
		    marker);
		parent_pki_blob_wipe(b);
		return -1;
	}
	if (secret && (st.st_mode & S_IRWXO))
		log_warnx("%s: private key readable by other users "
		    "(chmod o-rwx)", path);
	return 0;
}

/* Append PEM text and a newline to the CA text. */
static int
parent_pki_ca_append(struct pki_blob *ca, const struct pki_blob *b,
    const char *path, char *err, size_t errlen)
{
	char	*p;

	if (b->len > PKI_CA_MAX - ca->len) {
		(void)snprintf(err, errlen, "%s: CA certificates exceed %d "
		    "MiB", path, PKI_CA_MAX / (1024 * 1024));
		return -1;
	}
	if ((p = realloc(ca->data, ca->len + b->len + 2)) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	memcpy(p + ca->len, b->data, b->len);
	ca->len += b->len;
	p[ca->len++] = '\n';
	p[ca->len] = '\0';
	ca->data = p;
	return 0;
}

/* A file name of a hashed CA directory: 8 hex digits, '.', digits. */
static int
parent_pki_hashed_name(const char *s)
{
	return strlen(s) > 9 && strspn(s, "0123456789abcdef") == 8 &&
	    s[8] == '.' && strspn(s + 9, "0123456789") == strlen(s + 9);
}

/* Every certificate file of the hashed directory, in name order. */
static int
parent_pki_ca_dir(const char *dir, struct pki_blob *ca, char *err,
    size_t errlen)
{
	struct dirent	**ents;
	struct pki_blob	 b;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 i, n, rv = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rv == 0 && parent_pki_hashed_name(ents[i]->d_name) &&
		    snprintf(path, sizeof(path), "%s/%s", dir,
		    ents[i]->d_name) < (int)sizeof(path)) {
			memset(&b, 0, sizeof(b));
			if (parent_pki_read(path, PKI_FILE_MAX, &b, &st, err,
			    errlen) == 0) {
				rv = parent_pki_ca_append(ca, &b, path, err,
				    errlen);
				parent_pki_blob_wipe(&b);
			} else
				log_warnx("ca path: %s (skipped)", err);
		}
		free(ents[i]);
	}
	free(ents);
	return rv;
}

/* The ca file and ca path into one PEM text. */
static int
parent_pki_load_ca(const struct config *c, struct pki_blob *ca, char *err,
    size_t errlen)
{
	struct pki_blob	 b;
	struct stat	 st;
	int		 rv;

	if (c->tls_ca_file[0] != '\0') {
		memset(&b, 0, sizeof(b));
		if (parent_pki_read(c->tls_ca_file, PKI_CA_MAX, &b, &st, err,
		    errlen) == -1)
			return -1;
		rv = parent_pki_ca_append(ca, &b, c->tls_ca_file, err, errlen);
		parent_pki_blob_wipe(&b);
		if (rv == -1)
			return -1;
	}
	if (c->tls_ca_path[0] != '\0')
		return parent_pki_ca_dir(c->tls_ca_path, ca, err, errlen);
	return 0;
}

/* Never ask for a passphrase: an encrypted key is refused. */
static int
parent_pki_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

/*
 * The first certificate of the chain and the key parse, and the key is
 * the certificate's: what tlsproxy would otherwise refuse after the
 * reload was reported as done.
 */
static int
parent_pki_check(const struct pki *p, const struct pki_item *it, char *err,
    size_t errlen)
{
	BIO		*bio;
	X509		*x = NULL;
	EVP_PKEY	*key = NULL;
	int		 rv = -1;

	if ((bio = BIO_new_mem_buf(it->cert.data, (int)it->cert.len)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, parent_pki_no_passphrase,
		    NULL);
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(it->key.data, (int)it->key.len)) != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL,
		    parent_pki_no_passphrase, NULL);
	BIO_free(bio);
	if (x == NULL)
		(void)snprintf(err, errlen, "pki %s: certificate %s: bad PEM, "
		    "no certificate could be read", p->name, p->cert_file);
	else if (key == NULL)
		(void)snprintf(err, errlen, "pki %s: key %s: bad PEM, no "
		    "private key could be read (or it is encrypted)", p->name,
		    p->key_file);
	else if (X509_check_private_key(x, key) != 1)
		(void)snprintf(err, errlen, "pki %s: key %s does not match "
		    "certificate %s", p->name, p->key_file, p->cert_file);
	else
		rv = 0;
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	return rv;
}

/* Read one pki's files and check them; err names the pki. */
static int
parent_pki_load_item(const struct pki *p, struct pki_item *it, char *err,
    size_t errlen)
{
	char	 why[PATH_MAX + 128];

	(void)strlcpy(it->name, p->name, sizeof(it->name));
	if (parent_pki_read_pem(p->cert_file, "-----BEGIN CERTIFICATE",
	    &it->cert, 0, why, sizeof(why)) == -1 ||
	    parent_pki_read_pem(p->key_file, "PRIVATE KEY-----", &it->key, 1,
	    why, sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "pki %s: %s", p->name, why);
		return -1;
	}
	return parent_pki_check(p, it, err, errlen);
}

int
parent_pki_load(const struct config *c, char *err, size_t errlen)
{
	struct pki_set		 s;
	const struct pki	*p;
	struct pki_item		*it;
	size_t			 n = 0;

	memset(&s, 0, sizeof(s));
	TAILQ_FOREACH(p, &c->pkis, entry)
		n++;
	if (n > 0 && (s.items = calloc(n, sizeof(*s.items))) == NULL) {
		(void)snprintf(err, errlen, "pki: out of memory");
		return -1;
	}
	TAILQ_FOREACH(p, &c->pkis, entry) {
		it = &s.items[s.n++];
		if (parent_pki_load_item(p, it, err, errlen) == -1)
			goto fail;
	}
	if (parent_pki_load_ca(c, &s.ca, err, errlen) == -1)
		goto fail;
	parent_pki_set_wipe(&held);
	held = s;
	return 0;
fail:
	parent_pki_set_wipe(&s);
	return -1;
}

/* The CA text in chunks of whole certificates. */
static void
parent_pki_send_ca(int slot)
{
	struct imsg_out	 out;
	const char	*start = held.ca.data, *end, *cut;

	while (start != NULL && *start != '\0') {
		cut = NULL;
		for (end = start; (end = strstr(end, PKI_CERT_END)) != NULL;) {
			end += strlen(PKI_CERT_END);
			if ((size_t)(end - start) > PKI_CA_CHUNK)
				break;
			cut = end;
		}
		if (cut == NULL) {
			/* only text after the last certificate, or one
			 * certificate too big for a message: skipped */
			if (end == NULL)
				break;
			log_warnx("ca: a certificate over %d KiB skipped",
			    PKI_CA_CHUNK / 1024);
			start = end;
			continue;
		}
		imsg_out_init(&out, IMSG_TLS_PKI_CA, 0);
		imsg_put_data(&out, start, (size_t)(cut - start));
		(void)parent_proc_send_slot(slot, &out);
		start = cut;
	}
}

/* The held set to one tlsproxy instance (a slot of parent_proc.c). */
void
parent_pki_send_slot(int slot)
{
	struct imsg_out	 out;
	size_t		 i;

	if (!parent_proc_slot_running(slot))
		return;
	imsg_out_init(&out, IMSG_TLS_PKI_BEGIN, 0);
	(void)parent_proc_send_slot(slot, &out);
	for (i = 0; i < held.n; i++) {
		imsg_out_init(&out, IMSG_TLS_PKI, 0);
		imsg_put_str(&out, held.items[i].name);
		imsg_put_data(&out, held.items[i].cert.data,
		    held.items[i].cert.len);
		imsg_put_data(&out, held.items[i].key.data,
		    held.items[i].key.len);
		(void)parent_proc_send_slot(slot, &out);
	}
	parent_pki_send_ca(slot);
	imsg_out_init(&out, IMSG_TLS_PKI_END, 0);
	(void)parent_proc_send_slot(slot, &out);
}

/* The held set to every tlsproxy instance. */
void
parent_pki_send(void)
{
	int	 slot;

	for (slot = PROC_TLS; slot < PARENT_NSLOTS; slot++)
		parent_pki_send_slot(slot);
}
