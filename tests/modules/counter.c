/*
 * counter - a test-only module that makes its lifecycle observable: init
 * and fini each append one line to the file named by the option "file",
 *
 *   init <worker id> <pid>
 *   fini <worker id> <pid>
 *
 * with one write() on an O_APPEND descriptor, so lines from different
 * workers never interleave. A request gets "counter worker W pid P n K",
 * K counting this worker's requests.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <preforkd.h>

struct counter {
	const char	*file;
	int		 worker;
	unsigned long	 served;
};

/* Appends "<what> <worker> <pid>\n" in one write; 0 or -1. */
static int
note(const struct counter *c, const char *what)
{
	char line[64];
	int fd, n, rc = -1;

	n = snprintf(line, sizeof(line), "%s %d %d\n", what, c->worker,
	    (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	if ((fd = open(c->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	if (write(fd, line, (size_t)n) == n)
		rc = 0;
	close(fd);
	return rc;
}

static int
counter_init(const struct pfd_init *init, void **state)
{
	struct counter *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->file = pfd_init_option(init, "file");
	c->worker = pfd_init_worker_id(init);
	if (c->file == NULL || note(c, "init") == -1) {
		free(c);
		return -1;	/* without its file the test cannot see us */
	}
	*state = c;
	return 0;
}

static void
counter_fini(void *state)
{
	struct counter *c = state;

	(void)note(c, "fini");
	free(c);
}

static int
counter_handle(struct pfd_req *req, void *state)
{
	struct counter *c = state;
	char body[96];
	int n;

	n = snprintf(body, sizeof(body), "counter worker %d pid %d n %lu\n",
	    pfd_worker_id(req), (int)getpid(), ++c->served);
	if (n < 0 || (size_t)n >= sizeof(body))
		return 500;
	pfd_add_header(req, "Content-Type", "text/plain");
	return pfd_send(req, body, (size_t)n) == 0 ? 0 : 500;
}

PREFORKD_MODULE(.name = "counter", .init = counter_init,
    .fini = counter_fini, .handle = counter_handle);
