import { app } from "./app.ts";

export { JobObject } from "./job/job-object.ts";
export { KeyIndexObject } from "./key-index/key-index-object.ts";
export { WorkQueue } from "./queue/queue-object.ts";
export { UploadObject } from "./uploads/upload-object.ts";

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
