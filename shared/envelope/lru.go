package envelope

import (
	"container/list"
	"sync"
	"time"
)

// lru is a size- and age-bounded cache, safe for concurrent use. Entries
// expire ttl after they were put, whether or not they are read.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // front is most recently used; values are *lruEntry[V]
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key     string
	val     V
	expires time.Time
}

func newLRU[V any](max int, ttl time.Duration) *lru[V] {
	return &lru[V]{max: max, ttl: ttl, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns the value for key unless it is missing or expired at now.
func (c *lru[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if !now.Before(e.expires) {
		c.removeElement(el)
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// put stores val for key until now+ttl, evicting the least recently used
// entry when the cache is full.
func (c *lru[V]) put(key string, val V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry[V])
		e.val, e.expires = val, now.Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, val: val, expires: now.Add(c.ttl)})
	for c.order.Len() > c.max {
		c.removeElement(c.order.Back())
	}
}

// remove drops key if present.
func (c *lru[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
}

// len returns the number of entries, expired ones included.
func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *lru[V]) removeElement(el *list.Element) {
	c.order.Remove(el)
	delete(c.items, el.Value.(*lruEntry[V]).key)
}
