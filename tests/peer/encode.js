// Independent GPT-2 encoder for headcal's tokenizer tests.
// Usage: node encode.js DOCS.jsonl — each line a JSON string (one document);
// prints, for each document, its token ids on one line, space-separated.
'use strict';
const fs = require('fs');
const { encode } = require('gpt-3-encoder');

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.length > 0);
const out = lines.map((l) => encode(JSON.parse(l)).join(' '));
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
