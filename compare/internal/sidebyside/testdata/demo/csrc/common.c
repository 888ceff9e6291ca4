#include <unistd.h>

int shared_read(int fd)
{
    char buf[16];
    return (int)read(fd, buf, sizeof(buf));
}
