/*
 * nodesc - a test-only shared object that is not a module: it exports no
 * preforkd_module descriptor, so loading it must fail with one line.
 */
int	nodesc_marker(void);

int
nodesc_marker(void)
{
	return 42;
}
