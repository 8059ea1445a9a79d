// Upload a file straight to S3 with a presigned POST, reporting progress.

import { s3ErrorMessage } from "./api.js";

/**
 * POST `file` to the bucket as multipart/form-data: every presigned field, then the file.
 *
 * XMLHttpRequest rather than fetch because only XHR reports upload progress. S3 ignores any
 * field after `file`, so the file goes last. Resolves when S3 accepts the object.
 */
export function uploadToBucket(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) {
      form.append(name, value);
    }
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", upload.url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) {
        onProgress(event.loaded / event.total);
      }
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
      } else {
        const reason = s3ErrorMessage(request.responseText) ?? `HTTP ${request.status}`;
        reject(new Error(`the bucket refused the upload: ${reason}`));
      }
    });
    request.addEventListener("error", () => {
      reject(new Error("the upload failed: the bucket could not be reached"));
    });
    request.addEventListener("abort", () => reject(new Error("the upload was cancelled")));
    request.send(form);
  });
}
