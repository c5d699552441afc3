import { z } from "zod";

/** Uploads: files sent to the API itself, for recordings without a public URL (edge/uploads/). */

export const UPLOAD_STATUSES = ["uploading", "completed"] as const;

export const CreateMultipartUploadRequest = z.strictObject({
  multipart: z.literal(true).describe("Always true: the file follows in parts (PUT /v1/uploads/{id}/parts/{n})."),
  size_bytes: z.number().int().positive().describe("The file's exact size in bytes."),
  content_type: z
    .string()
    .max(255)
    .regex(/^[\w.+-]+\/[\w.+-]+$/, "a media type such as audio/mpeg")
    .default("application/octet-stream")
    .describe("The file's media type (audio/mpeg, video/mp4, …)."),
  filename: z.string().max(255).optional().describe("The file's name, kept for display."),
});
export type CreateMultipartUploadRequest = z.infer<typeof CreateMultipartUploadRequest>;

export const UploadPart = z.object({
  part_number: z.number().int().min(1),
  size_bytes: z.number().int().nonnegative(),
});
export type UploadPart = z.infer<typeof UploadPart>;

export const Upload = z.object({
  id: z.string().describe("`up_…`; give it as `upload_id` when creating a transcription."),
  object: z.literal("upload"),
  status: z.enum(UPLOAD_STATUSES).describe("`uploading` until every part is in and `complete` was called; then `completed`."),
  size_bytes: z.number().int(),
  content_type: z.string(),
  filename: z.string().nullable(),
  part_size_bytes: z.number().int().describe("Every part has exactly this size, except the last, which has the rest."),
  parts_total: z.number().int(),
  parts: z.array(UploadPart).describe("The parts received so far, in order: a client resuming a broken upload sends the others."),
  created_at: z.number().int().describe("Epoch milliseconds."),
  expires_at: z
    .number()
    .int()
    .describe("Epoch milliseconds. After it the upload is deleted (410 upload_gone), unless a job still reads it; then when that job ends."),
  content_url: z.string().nullable().describe("Completed uploads: a signed URL that reads the file (with range requests) for an hour; null otherwise."),
});
export type Upload = z.infer<typeof Upload>;

export const UploadPartReceived = UploadPart.describe("A part stored: re-sending the same part number replaces it.");
export type UploadPartReceived = z.infer<typeof UploadPartReceived>;

export const DeletedUpload = z.object({ id: z.string(), deleted: z.literal(true) });
export type DeletedUpload = z.infer<typeof DeletedUpload>;
