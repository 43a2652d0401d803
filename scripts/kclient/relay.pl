#!/usr/bin/perl
# relay.pl HOSTPORT [HOSTADDR]
#
# Byte pump between one guest TCP connection and the NFS server on the host
# loopback.  qemu's user-mode network (libslirp) runs this program once per
# guest connection to the guestfwd address and hands it that connection as
# stdin/stdout (one end of a TCP socket pair).  We dial HOSTADDR:HOSTPORT and
# nothing else; when either side goes away we go away too.  HOSTADDR defaults
# to 127.0.0.1 and must be an IPv4 address in 127.0.0.0/8 (kclient.sh
# --host-addr, e.g. the address of a localefs mount target): the guest may
# reach this host's loopback and nothing else.
#
# Latency matters more than throughput here.  slirp pushes each guest segment
# into the socket pair as a separate small write with Nagle enabled, so every
# NFS message that spans several segments would otherwise wait for our delayed
# ACK (~40 ms).  Hence: TCP_NODELAY on both sockets, big reads, and TCP_QUICKACK
# set again after every read from the guest side (the kernel clears it once it
# has sent an ACK, so it has to be re-armed each time).
#
# Only core perl (perl-base) is used.
use strict;
use warnings;
use Socket qw(AF_INET SOCK_STREAM IPPROTO_TCP TCP_NODELAY SHUT_WR
              inet_aton pack_sockaddr_in);

use constant QUICKACK => 12;          # TCP_QUICKACK from <netinet/tcp.h>
use constant CHUNK    => 1 << 18;     # 256 KiB per read

my $port = $ARGV[0] // '';
my $addr = $ARGV[1] // '127.0.0.1';
die "relay.pl: usage: relay.pl HOSTPORT [HOSTADDR]\n"
    unless @ARGV <= 2 && $port =~ /^[0-9]{1,5}$/ && $port >= 1 && $port <= 65535;
# a dotted quad in 127.0.0.0/8, each part 0..255 without leading zeros (no
# names, no short forms such as 127.1 that inet_aton would also take)
die "relay.pl: HOSTADDR must be an IPv4 address in 127.0.0.0/8, got '$addr'\n"
    unless $addr =~ /\A127(?:\.(?:0|[1-9][0-9]{0,2})){3}\z/
        && !grep { $_ > 255 } split /\./, $addr;

socket(my $up, AF_INET, SOCK_STREAM, 0) or exit 1;
connect($up, pack_sockaddr_in($port, inet_aton($addr))) or exit 1;
setsockopt($up, IPPROTO_TCP, TCP_NODELAY, 1);

open(my $gin,  '<&=', 0) or exit 1;   # guest -> us
open(my $gout, '>&=', 1) or exit 1;   # us -> guest (same socket as stdin)
binmode $_ for ($up, $gin, $gout);
# stdin/stdout are a TCP socket under slirp; ignore failures if they are not
setsockopt($gout, IPPROTO_TCP, TCP_NODELAY, 1);
setsockopt($gin,  IPPROTO_TCP, QUICKACK, 1);

sub write_all {
    my ($fh, $data) = @_;
    my $done = 0;
    while ($done < length $data) {
        my $n = syswrite($fh, $data, length($data) - $done, $done);
        return 0 unless defined $n && $n > 0;
        $done += $n;
    }
    return 1;
}

my $guest_open = 1;
while (1) {
    my $rin = '';
    vec($rin, fileno($up), 1) = 1;
    vec($rin, fileno($gin), 1) = 1 if $guest_open;
    my $ready = select(my $rout = $rin, undef, undef, undef);
    next if $ready < 0 && $!{EINTR};
    exit 0 if $ready < 0;

    if (vec($rout, fileno($up), 1)) {
        my $got = sysread($up, my $buf, CHUNK);
        exit 0 unless $got;                    # server closed (or error)
        write_all($gout, $buf) or exit 0;
    }
    if ($guest_open && vec($rout, fileno($gin), 1)) {
        my $got = sysread($gin, my $buf, CHUNK);
        if (!$got) {                           # guest closed: pass on the FIN
            $guest_open = 0;
            shutdown($up, SHUT_WR);
            next;
        }
        setsockopt($gin, IPPROTO_TCP, QUICKACK, 1);
        write_all($up, $buf) or exit 0;
    }
}
