/*
 * fuzz_imsg.c: libFuzzer target for the imsg framing and payload readers:
 * whatever a peer sends, parsing never reads out of bounds.
 */
#include <stdint.h>
#include <string.h>

#include "imsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct imsg	 m;
	uint32_t	 flags;
	const char	*err;
	size_t		 n, dlen;
	char		 buf[16];

	while ((n = imsg_wire_parse(data, len, &m, &flags, &err)) > 0) {
		while (!m.bad && m.off < m.len) {
			switch (m.off % 5) {
			case 0:
				(void)imsg_get_u32(&m);
				break;
			case 1:
				(void)strlen(imsg_get_str(&m));
				break;
			case 2:
				(void)imsg_get_data(&m, &dlen);
				break;
			case 3:
				(void)imsg_get_strbuf(&m, buf, sizeof(buf));
				break;
			default:
				(void)imsg_get_u64(&m);
			}
		}
		(void)imsg_get_end(&m);
		data += n;
		len -= n;
	}
	return 0;
}
