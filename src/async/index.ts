export { admitJob, type JobAdmissionDeps } from './admission.js'
export { AsyncJobStore, type AsyncJobRow, type AsyncJobStatus, type JobRequest } from './job-store.js'
export {
  AsyncJobs,
  jobView,
  type AsyncJobView,
  type Replay,
  type ReplayResult,
  type SubmitJob,
} from './jobs.js'
export { BullJobQueue, InProcessJobQueue, type JobQueue } from './queue.js'
