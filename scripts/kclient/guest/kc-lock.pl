#!/usr/bin/perl
# kc-lock FILE ACTION...   (installed in the guest as /usr/bin/kc-lock)
#
# POSIX byte-range locks (fcntl F_GETLK / F_SETLK / F_SETLKW) for guest test
# scripts: busybox has no fcntl locker and util-linux flock(1) only takes
# whole-file locks.  All ACTIONs run in order in this one process, so they
# share one lock owner; another kc-lock process is another owner, which on
# NFSv4 becomes another lock-owner (LOCK / LOCKT / LOCKU on the wire).
#
# ACTIONs (TYPE is r or w; LEN 0 means "to end of file"):
#   test:TYPE:START:LEN   print "free" or "conflict TYPE START LEN"  (F_GETLK)
#   try:TYPE:START:LEN    print "locked TYPE START LEN", or "busy ..." and
#                         exit 3 if another owner conflicts        (F_SETLK)
#   wait:TYPE:START:LEN   like try but blocks until granted        (F_SETLKW)
#   unlock:START:LEN      release that range                       (F_UNLCK)
#   sleep:SECONDS         sleep (fractions allowed)
#   until:PATH            wait until PATH exists (gives up after 300 s: exit 5)
#   say:TEXT              print TEXT
# Exit status: 0 all actions done, 3 busy, 4 usage, 5 other error.
# Uses perl builtins only: the guest has the perl binary but no module tree
# (so no strict, warnings or Errno either).

$| = 1;
my ($F_GETLK, $F_SETLK, $F_SETLKW) = (5, 6, 7);         # x86_64 <fcntl.h>
my ($F_RDLCK, $F_WRLCK, $F_UNLCK) = (0, 1, 2);
my %type_code = (r => $F_RDLCK, w => $F_WRLCK);
my ($EAGAIN, $EACCES) = (11, 13);
my %type_name = ($F_RDLCK => 'r', $F_WRLCK => 'w', $F_UNLCK => 'u');

sub usage { print STDERR "kc-lock: $_[0]\nusage: kc-lock FILE ACTION...\n"; exit 4 }

# struct flock on x86_64: short l_type, short l_whence, [pad], off_t l_start,
# off_t l_len, pid_t l_pid, [pad]  = 32 bytes
sub flock_struct { pack('s s x4 q q l x4', $_[0], 0, $_[1], $_[2], 0) }
sub flock_fields { unpack('s s x4 q q l x4', $_[0]) }

my $file = shift @ARGV // usage('missing FILE');
@ARGV or usage('no ACTION');
open(my $fh, '+<', $file) or do { print STDERR "kc-lock: open $file: $!\n"; exit 5 };

sub range_args {
    my ($start, $len, $what) = @_;
    defined $len && $start =~ /^\d+$/ && $len =~ /^\d+$/ or usage("bad range in $what");
}

for my $act (@ARGV) {
    my ($verb, @a) = split /:/, $act, -1;
    if ($verb eq 'test' || $verb eq 'try' || $verb eq 'wait') {
        my ($t, $start, $len) = @a;
        defined $t && exists $type_code{$t} or usage("bad type in $act");
        range_args($start, $len, $act);
        if ($verb eq 'test') {
            my $buf = flock_struct($type_code{$t}, $start, $len);
            fcntl($fh, $F_GETLK, $buf) or do { print STDERR "kc-lock: F_GETLK: $!\n"; exit 5 };
            my ($ct, undef, $cs, $cl) = flock_fields($buf);
            if ($ct == $F_UNLCK) { print "free\n" }
            else { print "conflict $type_name{$ct} $cs $cl\n" }
            next;
        }
        my $cmd = $verb eq 'try' ? $F_SETLK : $F_SETLKW;
        my $buf = flock_struct($type_code{$t}, $start, $len);
        if (fcntl($fh, $cmd, $buf)) { print "locked $t $start $len\n"; next }
        if ($! + 0 == $EAGAIN || $! + 0 == $EACCES) { print "busy $t $start $len\n"; exit 3 }
        print STDERR "kc-lock: $act: $!\n";
        exit 5;
    } elsif ($verb eq 'unlock') {
        my ($start, $len) = @a;
        range_args($start, $len, $act);
        fcntl($fh, $F_SETLK, flock_struct($F_UNLCK, $start, $len))
            or do { print STDERR "kc-lock: $act: $!\n"; exit 5 };
        print "unlocked $start $len\n";
    } elsif ($verb eq 'sleep') {
        my ($s) = @a;
        defined $s && $s =~ /^\d+(\.\d+)?$/ or usage("bad $act");
        select(undef, undef, undef, $s);
    } elsif ($verb eq 'until') {
        my $path = join(':', @a);
        length $path or usage("bad $act");
        my $left = 3000;
        until (-e $path) {
            if (--$left < 0) { print STDERR "kc-lock: gave up waiting for $path\n"; exit 5 }
            select(undef, undef, undef, 0.1);
        }
    } elsif ($verb eq 'say') {
        print join(':', @a), "\n";
    } else {
        usage("unknown action $act");
    }
}
exit 0;
