/*
 * notify - the systemd notification protocol (sd_notify): one datagram
 * to $NOTIFY_SOCKET. A no-op when not run by systemd with Type=notify.
 */
#ifndef PREFORKD_NOTIFY_H
#define PREFORKD_NOTIFY_H

/* Sends msg ("READY=1", "RELOADING=1\nMONOTONIC_USEC=..."). */
void	notify(const char *msg);
/* Formats and sends "RELOADING=1\nMONOTONIC_USEC=<now>". */
void	notify_reloading(void);

#endif
