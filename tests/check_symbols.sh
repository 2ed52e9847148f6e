#!/bin/sh
# SPDX-License-Identifier: MIT
# check_symbols.sh - keep two promises of the library true, from the
# undefined symbols (nm -u) of its object files.
#
# Lists may be separated by spaces or by ';' (as CMake passes them); paths
# may not hold spaces.
#
#   check_symbols.sh syscalls "FOLDER..." OBJECT...
#     Every system call goes through the OS layer (src/os/os.h): an object
#     whose path contains one of FOLDERS (say "/src/pmm/ /daemon/") and not
#     "/src/os/" may not use a libc system-call wrapper.  To check more of
#     the tree, add its folder and its objects in tests/CMakeLists.txt.
#
#   check_symbols.sh writers OBJECT...
#     A published bank's metadata is written only by update.c (the commit
#     protocol), lock.c (recovery) and repair.c, through write.c; the raw
#     pwrite only by write.c and create.c (a new file, not yet published).
#
# Prints one line per offence, "object: symbol (why)", and fails if any;
# an object nm cannot read fails the check (exit 2), named.
set -eu

# libc's wrappers of system calls (and stdio/dirent calls that open
# files), with the names glibc's fortified, 64-bit and versioned forms
# give them.
BANNED='
open open64 __open_2 __open64_2 openat openat64 __openat_2 creat creat64
close close_range dup dup2 dup3 read __read_chk readv pread pread64
__pread_chk __pread64_chk preadv write writev pwrite pwrite64 pwritev
lseek lseek64 fcntl fcntl64 ioctl flock lockf lockf64 ftruncate
ftruncate64 truncate truncate64 fallocate fallocate64 posix_fallocate
posix_fallocate64 fsync fdatasync sync_file_range syncfs
stat stat64 fstat fstat64 lstat lstat64 fstatat fstatat64 newfstatat statx
__xstat __xstat64 __fxstat __fxstat64 __lxstat __lxstat64 __fxstatat
__fxstatat64 statfs fstatfs statvfs fstatvfs access faccessat euidaccess
unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat
readlink readlinkat __readlink_chk realpath __realpath_chk mkdir mkdirat
rmdir chmod fchmod fchmodat chown fchown lchown fchownat umask chdir
fchdir getcwd utimensat futimens
opendir fdopendir readdir readdir64 closedir scandir
fopen fopen64 fdopen freopen freopen64 tmpfile tmpfile64 mkstemp mkostemp
mmap mmap64 munmap mremap mprotect msync madvise posix_madvise mlock
munlock mlockall mincore memfd_create shm_open shm_unlink
socket socketpair connect bind listen accept accept4 send sendto sendmsg
sendmmsg recv __recv_chk recvfrom __recvfrom_chk recvmsg recvmmsg
setsockopt getsockopt shutdown getpeername getsockname
pipe pipe2 poll __poll_chk ppoll __ppoll_chk select pselect epoll_create
epoll_create1 epoll_ctl epoll_wait epoll_pwait signalfd eventfd
timerfd_create timerfd_settime inotify_init1
kill tgkill killpg raise sigaction signal sigprocmask sigsuspend
sigtimedwait sigwaitinfo pause alarm setitimer
fork vfork clone clone3 _Fork execve execv execvp execvpe execl execlp
execle fexecve posix_spawn posix_spawnp system popen wait waitpid waitid
wait3 wait4 pidfd_open pidfd_send_signal pidfd_getfd syscall prctl
getpid getppid gettid getuid geteuid getgid getegid getgroups setuid
setgid setsid setpgid getpgid getrlimit setrlimit prlimit getrusage
personality sched_yield sched_setaffinity nanosleep clock_nanosleep
usleep sleep clock_gettime gettimeofday time getrandom getentropy
'
# The stores to the metadata, and who may call them.
WRITERS='pmm__meta_write pmm__write_entry pmm__write_live pmm__write_bucket
pmm__bitmap_set pmm__meta_flush'
WRITER_OBJECTS='/src/pmm/update.c.o /src/pmm/lock.c.o /src/pmm/repair.c.o
/src/pmm/write.c.o'
PWRITE_OBJECTS='/src/pmm/write.c.o /src/pmm/create.c.o'

undefined() { # the undefined symbols of object $1, one a line
    u=$(nm -u "$1") || return 1
    echo "$u" | awk '{ s = $NF; sub(/@.*/, "", s); print s }'
}

read_undefined() { # $syms: undefined "$1"; an object nm cannot read fails
    # the check (inside the loops' $(...) its failure would be lost, and
    # the object counted as checked with no symbol)
    syms=$(undefined "$1") || { echo "FAIL: $1: nm cannot read it"; exit 2; }
}

in_list() { # word $1 is one of list $2
    case " $(echo $2) " in *" $1 "*) return 0 ;; esac
    return 1
}

ends_with_one_of() { # path $1 ends with one of list $2
    for e in $2; do
        case "$1" in *"$e") return 0 ;; esac
    done
    return 1
}

bad=0
offence() {
    echo "$1: $2 ($3)"
    bad=$((bad + 1))
}

mode=${1:?usage: check_symbols.sh syscalls|writers ...}
shift
case "$mode" in
syscalls)
    folders=$(echo "${1:?no folders given}" | tr ';' ' ')
    shift
    set -- $(echo "$@" | tr ';' ' ')
    checked=0
    for o in "$@"; do
        case "$o" in */src/os/*) continue ;; esac
        hit=0
        for f in $folders; do
            case "$o" in *"$f"*) hit=1 ;; esac
        done
        [ $hit = 1 ] || continue
        checked=$((checked + 1))
        read_undefined "$o"
        for s in $syms; do
            if in_list "$s" "$BANNED"; then
                offence "$o" "$s" "a system call outside the OS layer: move it into src/os/"
            fi
        done
    done
    [ $checked -gt 0 ] || { echo "no object of $folders was given"; exit 2; }
    echo "$checked objects checked, $bad system call(s) outside the OS layer"
    ;;
writers)
    set -- $(echo "$@" | tr ';' ' ')
    checked=0
    for o in "$@"; do
        case "$o" in */src/pmm/*) ;; *) continue ;; esac
        checked=$((checked + 1))
        read_undefined "$o"
        for s in $syms; do
            if in_list "$s" "$WRITERS" && ! ends_with_one_of "$o" "$WRITER_OBJECTS"; then
                offence "$o" "$s" "only update.c, lock.c and repair.c write metadata"
            fi
            if [ "$s" = pmm__os_pwrite ] && ! ends_with_one_of "$o" "$PWRITE_OBJECTS"; then
                offence "$o" "$s" "only write.c writes a published bank's file"
            fi
        done
    done
    [ $checked -gt 0 ] || { echo "no object of src/pmm/ was given"; exit 2; }
    echo "$checked objects checked, $bad write(s) to metadata outside its writers"
    ;;
*)
    echo "check_symbols.sh: unknown check $mode" >&2
    exit 2
    ;;
esac
[ $bad = 0 ]
