// Fills the panel's PARAMS and the upload field names from the shipped schema.json (StyleParams.schema(), `make schema`), as
// the app does when /capabilities cannot be read. Import it first in a test that reads PARAMS.
import { readFileSync } from "node:fs";
import { applySchema } from "../params.js";
import { applyFields } from "../uploads.js";

export const SCHEMA = JSON.parse(readFileSync(new URL("../schema.json", import.meta.url), "utf8"));
applySchema(SCHEMA.params);
applyFields(SCHEMA.fields);
