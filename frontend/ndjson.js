// Newline-delimited JSON from a byte stream. Network chunks split lines anywhere, including
// inside a multi-byte UTF-8 character, so bytes go through one streaming TextDecoder and
// only complete lines are parsed. Pending text is kept as pieces: a multi-megabyte base64
// line arriving in many small chunks is joined once, not re-concatenated per chunk.

export class NdjsonDecoder {
  #decoder = new TextDecoder("utf-8");
  #pending = [];

  /** Feed a chunk (Uint8Array or string); returns the objects of every line it completed. */
  push(chunk) {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    return this.#take(text);
  }

  /** The stream ended: flush the decoder and parse a last line that had no newline. */
  end() {
    const objects = this.#take(this.#decoder.decode());
    const last = this.#pending.join("");
    this.#pending = [];
    if (last.trim()) objects.push(parseLine(last));
    return objects;
  }

  #take(text) {
    const objects = [];
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      this.#pending.push(text.slice(start, nl));
      const line = this.#pending.join("");
      this.#pending = [];
      if (line.trim()) objects.push(parseLine(line));
      start = nl + 1;
    }
    if (start < text.length) this.#pending.push(text.slice(start));
    return objects;
  }
}

function parseLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    throw new SyntaxError(`malformed line from server: ${line.slice(0, 80)}`);
  }
}
