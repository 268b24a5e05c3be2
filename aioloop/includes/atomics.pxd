# Atomic loads, stores and exchanges (GCC/Clang builtins) for flags that one thread
# writes and others poll without a lock. Acquire/release ordering: what a
# thread wrote before a release-store is visible to one that acquire-loads
# the new value.

cdef extern from *:
    """
    static inline int aio_load_acquire(const int *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void aio_store_release(int *p, int v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline int aio_load_seq(const int *p) {
        return __atomic_load_n(p, __ATOMIC_SEQ_CST);
    }
    static inline void aio_store_seq(int *p, int v) {
        __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_exchange_seq(int *p, int v) {
        return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_load_relaxed(const int *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    /* The producer's half of a Dekker handshake: publish *flag = 1, then
       take *other (exchange it with 0); returns what *other was. */
    static inline int aio_set_pending_and_take(int *flag, int *other) {
        __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
        return __atomic_exchange_n(other, 0, __ATOMIC_SEQ_CST);
    }
    static inline unsigned long aio_load_ulong(const unsigned long *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void aio_store_ulong(unsigned long *p, unsigned long v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline Py_ssize_t aio_load_ssize(const Py_ssize_t *p) {
        return __atomic_load_n(p, __ATOMIC_SEQ_CST);
    }
    static inline void aio_store_ssize(Py_ssize_t *p, Py_ssize_t v) {
        __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
    }
    static inline Py_ssize_t aio_load_ssize_relaxed(const Py_ssize_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline void aio_store_ssize_relaxed(Py_ssize_t *p, Py_ssize_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    }
    static inline int aio_fetch_add(int *p, int v) {
        return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_cas(int *p, int expected, int desired) {
        return __atomic_compare_exchange_n(p, &expected, desired, 0,
                                           __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    """
    int aio_load_acquire(const int *p) nogil
    void aio_store_release(int *p, int v) nogil
    # Sequentially consistent: for the store-then-load handshakes where each
    # side must see the other's store (the inbox's sleeping/pending flags).
    int aio_load_seq(const int *p) nogil
    void aio_store_seq(int *p, int v) nogil
    int aio_exchange_seq(int *p, int v) nogil
    int aio_load_relaxed(const int *p) nogil
    int aio_set_pending_and_take(int *flag, int *other) nogil
    # Thread ids and counts published by one thread for others to read.
    unsigned long aio_load_ulong(const unsigned long *p) nogil
    void aio_store_ulong(unsigned long *p, unsigned long v) nogil
    Py_ssize_t aio_load_ssize(const Py_ssize_t *p) nogil
    void aio_store_ssize(Py_ssize_t *p, Py_ssize_t v) nogil
    Py_ssize_t aio_load_ssize_relaxed(const Py_ssize_t *p) nogil
    void aio_store_ssize_relaxed(Py_ssize_t *p, Py_ssize_t v) nogil
    int aio_fetch_add(int *p, int v) nogil
    # The same on a Cython bint (a C int): flags such as a loop's _running.
    bint aio_load_flag "aio_load_acquire"(const bint *p) nogil
    void aio_store_flag "aio_store_release"(bint *p, bint v) nogil
    # Compare-and-swap: True (and *p = desired) if *p was `expected`.
    bint aio_cas(int *p, int expected, int desired) nogil

cdef extern from "<sched.h>" nogil:
    int sched_yield()
