# uring's requests in the ring, in the order submitted: opcode, user_data (op | slot << 8), flags, descriptor -> result, cflags
POLL_ADD user_data 0x1 flags 0x0 fd 5 -> 1 cflags 0x0
ACCEPT user_data 0x4 flags 0x0 fd 6 -> conn1 cflags 0x0
RECV user_data 0x5 flags 0x400000 fd conn1 -> 13 cflags 0x4
ACCEPT user_data 0x4 flags 0x0 fd 6 -> conn2 cflags 0x0
SEND user_data 0x6 flags 0x400000 fd conn1 -> 13 cflags 0x0
SHUTDOWN user_data 0x7 flags 0x10 fd conn1 -> 0 cflags 0x0
CLOSE user_data 0x8 flags 0x0 -> 0 cflags 0x0
RECV user_data 0x5 flags 0x400000 fd conn2 -> -125 cflags 0x0
ACCEPT user_data 0x4 flags 0x0 fd 6 -> -125 cflags 0x0
ASYNC_CANCEL user_data 0x2 flags 0x0 -> 2 cflags 0x0
