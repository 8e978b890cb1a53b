package broker

import (
	"context"
	"sync"

	"github.com/enmasse-go/enmasse/internal/store"
)

// journaler writes journal records for the message path in batches: every
// record submitted while a batch is being written (and fsync'd) goes into
// the next one, so concurrent producers share a single PutBatch, one
// request and one fsync, instead of a goroutine and a request per message.
// Its goroutine runs only while there is work.
type journaler struct {
	b       *Broker
	mu      sync.Mutex
	pending []journalJob
	waiting []func(error)
	running bool
}

// journalJob is one record: of message m on queue q, or of the retained
// message r of topic t.
type journalJob struct {
	q   *queue
	m   *msg
	t   *topic
	r   *retained
	rec []byte
}

func (job *journalJob) key() uint64 {
	if job.r != nil {
		return job.r.key
	}
	return job.m.key
}

func (job *journalJob) written(b *Broker, err error) {
	if job.r != nil {
		job.t.retainedWritten(b, job.r, err)
		return
	}
	job.q.written(job.m, err)
}

// maxJournalBatch bounds one PutBatch.
const maxJournalBatch = 4096

// submit queues records that are written together; done (optional) is
// called once they are durable, or with the error that prevented it. The
// caller raised m.writing (or set r.writing) for each job.
func (j *journaler) submit(done func(error), jobs ...journalJob) {
	j.mu.Lock()
	j.pending = append(j.pending, jobs...)
	j.waiting = append(j.waiting, done)
	if !j.running {
		j.running = true
		go j.run()
	}
	j.mu.Unlock()
}

func (j *journaler) run() {
	for {
		j.mu.Lock()
		jobs, waiting := j.pending, j.waiting
		if len(jobs) == 0 {
			j.running = false
			j.mu.Unlock()
			return
		}
		j.pending, j.waiting = nil, nil
		j.mu.Unlock()
		for len(jobs) > 0 {
			n := min(len(jobs), maxJournalBatch)
			recs := make([]store.Record, n)
			for i, job := range jobs[:n] {
				recs[i] = store.Record{Key: job.key(), Data: job.rec}
			}
			ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
			err := j.b.opts.Store.PutBatch(ctx, recs)
			cancel()
			for i := range jobs[:n] {
				jobs[i].written(j.b, err)
			}
			jobs = jobs[n:]
			if err != nil || len(jobs) == 0 {
				// Callers learn the outcome once all their records are
				// through; with an error every pending caller fails.
				for _, done := range waiting {
					if done != nil {
						done(err)
					}
				}
				if err != nil {
					for i := range jobs {
						jobs[i].written(j.b, err)
					}
					break
				}
			}
		}
	}
}
