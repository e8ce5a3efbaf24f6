/* Host header for the tools/ shim fixture. */
typedef struct { int locked; } pthread_mutex_t;
#define PTHREAD_MUTEX_INITIALIZER { 0 }
