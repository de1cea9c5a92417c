import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLUE, SPACE, WordTokenizer, segmentWords, wordCore } from '../src/data/word.js';
import { tokenizerFromJSON } from '../src/data/tokenizer-factory.js';
import { readPairsSync } from '../src/data/corpus.js';
import { splitBySource } from '../src/data/split.js';
import { Rng } from '../src/engine/rng.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fraPath = join(repoRoot, '..', 'shared', 'data', 'fra-eng', 'fra.txt');

const words = new WordTokenizer();
const cores = (s: string): string[] => words.tokenize(s).map(wordCore);
const NBSP = '\u00A0';
const NNBSP = '\u202F';

test('segmentation: elisions, contractions, hyphens, numbers', () => {
  assert.deepEqual(cores("J'aime l'été !"), ["J'", 'aime', "l'", 'été', '!']);
  assert.deepEqual(cores("J'aime l'été\u202F!"), ["J'", 'aime', "l'", 'été', '!']);
  // English contractions: Penn Treebank style, the clitic is its own token.
  assert.deepEqual(cores("I don't know."), ['I', 'do', "n't", 'know', '.']);
  assert.deepEqual(cores("I can't, I won't, I'm sure they're Tom's."), ['I', 'ca', "n't", ',', 'I', 'wo', "n't", ',', 'I', "'m", 'sure', 'they', "'re", 'Tom', "'s", '.']);
  assert.deepEqual(cores("We'll see, you'd think we've won."), ['We', "'ll", 'see', ',', 'you', "'d", 'think', 'we', "'ve", 'won', '.']);
  assert.deepEqual(cores("aujourd'hui"), ["aujourd'hui"]);
  assert.deepEqual(cores('peut-être'), ['peut-être']);
  assert.deepEqual(cores("Qu'est-ce que"), ["Qu'", 'est-ce', 'que']);
  assert.deepEqual(cores("Jusqu'à quand ? Lorsqu'il pleut, quelqu'un m'a dit qu'aujourd'hui c'est fini."), [
    "Jusqu'", 'à', 'quand', '?', "Lorsqu'", 'il', 'pleut', ',', "quelqu'un", "m'", 'a', 'dit', "qu'", "aujourd'hui", "c'", 'est', 'fini', '.',
  ]);
  assert.deepEqual(cores("QU'IL VIENNE ! S'il te plaît."), ["QU'", 'IL', 'VIENNE', '!', "S'", 'il', 'te', 'plaît', '.']);
  assert.deepEqual(cores("It's 3.5 km, 1,000 yen, 10:30 and 2.5."), ['It', "'s", '3.5', 'km', ',', '1,000', 'yen', ',', '10:30', 'and', '2.5', '.']);
  assert.deepEqual(cores(`Ça coûte 10${NNBSP}000 € et 3,5 %.`), ['Ça', 'coûte', `10${NNBSP}000`, '€', 'et', '3,5', '%', '.']);
  assert.deepEqual(cores('Wait... what?! Really!!'), ['Wait', '...', 'what', '?', '!', 'Really', '!!']);
  assert.deepEqual(cores("o'clock, rock'n'roll, prud'homme"), ["o'clock", ',', "rock'n'roll", ',', "prud'homme"]);
  assert.deepEqual(cores('Dis-moi, va-t’en !'), ['Dis-moi', ',', 'va-t’en', '!']);
  // Emoji sequences stay whole; case is kept.
  assert.deepEqual(cores('OK 👍🏽 👨‍👩‍👧 🇫🇷!'), ['OK', '👍🏽', '👨‍👩‍👧', '🇫🇷', '!']);
});

test('curly apostrophes split like straight ones and are kept as written', () => {
  assert.deepEqual(cores('J’aime l’été, don’t you?'), ['J’', 'aime', 'l’', 'été', ',', 'do', 'n’t', 'you', '?']);
  assert.deepEqual(cores('aujourd’hui'), ['aujourd’hui']);
  assert.deepEqual(words.tokenize('l’été'), ['l’', 'été']);
});

test('text in the usual conventions has no spacing codes', () => {
  const conventional = [
    "I don't know.",
    "J'aime l'été.",
    'Tom said, "I think so."',
    'It costs $5 (about 4 €).',
    '« Bonjour », dit-il.',
    "Qu'est-ce que c'est?",
    'He left at 10:30; she stayed.',
  ];
  for (const s of conventional) {
    const tokens = words.tokenize(s);
    assert.deepEqual(tokens, tokens.map(wordCore), JSON.stringify(s));
    assert.equal(words.detokenize(tokens), s);
  }
});

test('spacing codes: punctuation carries them, words stay plain', () => {
  assert.deepEqual(words.tokenize('Va !'), ['Va', `${SPACE}!`]);
  assert.deepEqual(words.tokenize(`Va${NNBSP}!`), ['Va', `${NNBSP}!`]);
  assert.deepEqual(words.tokenize(`Qui${NBSP}?`), ['Qui', `${NBSP}?`]);
  assert.deepEqual(words.tokenize(`«${NBSP}Oui${NBSP}»`), [`«${NBSP}`, 'Oui', `${NBSP}»`]);
  assert.deepEqual(words.tokenize('e.g. this'), ['e', `.${GLUE}`, 'g', '.', 'this']);
  assert.deepEqual(words.tokenize('( a )'), [`(${SPACE}`, 'a', `${SPACE})`]);
  assert.deepEqual(words.tokenize("l' été"), ['l', "'", 'été']); // an apostrophe before a space is not an elision
  // Between two words the right one carries an unusual gap.
  assert.deepEqual(words.tokenize('a  b'), ['a', '  b']);
  assert.deepEqual(words.tokenize(' a '), [`${SPACE}a${SPACE}`]);
  assert.deepEqual(words.tokenize(''), []);
  assert.deepEqual(words.tokenize(' \t '), [' \t ']);
});

const SENTENCES = [
  // English
  'Go.',
  'Hi.',
  'Run!',
  'Who?',
  "I don't know.",
  "I can't believe it's already 5 o'clock!",
  "Tom's dog isn't Mary's; it's John's.",
  "We'd've gone if you'd asked.",
  "You're right, they'll come, won't they?",
  'She paid $1,000.50 for a 3.5-inch screen (a bargain!).',
  'The meeting is at 10:30 a.m. on 12/05/2024.',
  'He said: "Don\'t go there."',
  "She whispered 'hello' and left...",
  'Is it 50% off—or not?',
  'Well - I guess so.',
  'E-mail me at tom@example.com #urgent',
  'Wow!!! Really?!',
  'I love pizza 🍕 and sushi 🍣!',
  'Family: 👨‍👩‍👧‍👦, thumbs: 👍🏾, flag: 🇨🇦.',
  'The “quoted” text and ‘single’ ones.',
  'Twenty-one state-of-the-art self-driving cars.',
  'Mr. Smith went to Washington, D.C., yesterday.',
  'Numbers: -5, +3, 2^10 = 1024, 7 × 8 = 56.',
  'Tabs\tand  double  spaces  stay.',
  ' leading and trailing spaces ',
  'ÉCRIS EN MAJUSCULES.',
  'Naïve café coöperation façade',
  // French, with ASCII, no-break (U+00A0) and narrow no-break (U+202F) spaces
  'Va !',
  'Cours\u00A0!',
  'Qui\u202F?',
  "J'aime l'été !",
  'J’aime l’été\u202F!',
  "Qu'est-ce que c'est ?",
  "Aujourd'hui, c'est peut-être le jour.",
  "Jusqu'à quand resteras-tu ici\u202F?",
  "Lorsqu'il est arrivé, quelqu'un l'attendait.",
  "Puisqu'on te le dit : c'est vrai.",
  'Note\u00A0: il fait 25\u00A0°C\u00A0; prends de l’eau\u202F!',
  '« Bonjour », m’a-t-il dit.',
  '«\u00A0Bonjour\u00A0», dit-elle.',
  '«\u202FAllez-y\u202F!\u202F»',
  'Ça coûte 10\u202F000 euros, soit 3,5 % de plus.',
  'Il est 8 h 30, pas 8h30.',
  'Donne-le-moi, s’il te plaît.',
  'Y a-t-il quelqu’un ? Non…',
  'C’est l’œuvre d’un maître.',
  'Où est la gare ? Là-bas !',
  'Je n’en sais rien — vraiment rien.',
  'Il m’a dit « je reviens » et il est parti.',
  '« Quoi ?! » s’écria-t-il.',
  'Prends-en deux ; laisse le reste.',
  'Elle a 1,000 raisons… ou 1.000 ?',
  'Bravo 👏👏 !',
  'Le prix : 12,50 € (TTC).',
  "L'homme qu'il a vu n'était pas là.",
  // Odd inputs
  '',
  ' ',
  '\u00A0',
  "'",
  "l'",
  "n't",
  "'s",
  '"',
  '""',
  '"a" "b" "c',
  '▁',
  '￭',
  'a▁b ￭c ▁ ￭',
  '▁▁ ￭￭',
  'x\u200D▁ ▁\u0301 y',
  '@@ a@@ @@b',
  '\u200B\u00AD',
  'a\u0301e\u0301',
  '   multiple   \u00A0\u202F  whitespace   ',
];

test('round trips exactly on English and French sentences', () => {
  for (const s of SENTENCES) {
    assert.equal(words.detokenize(words.tokenize(s)), s, JSON.stringify(s));
  }
});

test('round trips exactly on random strings', () => {
  const alphabet = [
    'a', 'b', 'é', 'Z', '1', '0', ' ', ' ', ' ', '\u00A0', '\u202F', '\t', "'", '’', '-', '.', ',', ':', ';', '!', '?', '"',
    '«', '»', '(', ')', '/', '$', '%', '…', '▁', '￭', '@', '😀', '\u200D', '\u0301', '🏽', 'l', 'n', 't', 's', 'qu', 'jusqu',
  ];
  const rng = new Rng(11);
  for (let trial = 0; trial < 5000; trial++) {
    let s = '';
    const n = rng.int(14);
    for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
    const tokens = words.tokenize(s);
    assert.equal(words.detokenize(tokens), s, JSON.stringify(s));
    for (const t of tokens) assert.ok(t.length > 0, 'no empty tokens');
  }
});

test('detokenize accepts any token list', () => {
  const rng = new Rng(5);
  const pool = ['a', '.', '▁!', '\u202F?', "l'", "n't", '"', '«', '»', '￭', '▁', '▁▁', '  ', 'x￭', '▁y'];
  for (let trial = 0; trial < 2000; trial++) {
    const list = Array.from({ length: rng.int(8) }, () => pool[rng.int(pool.length)]);
    assert.equal(typeof words.detokenize(list), 'string');
  }
  // Model output with plain tokens gets conventional spacing.
  assert.equal(words.detokenize(['Je', 'ne', 'sais', 'pas', '.']), 'Je ne sais pas.');
  assert.equal(words.detokenize(["J'", 'ai', 'faim', '\u202F!']), "J'ai faim\u202F!");
  assert.equal(words.detokenize(['He', 'said', '"', 'hi', '"', '.']), 'He said "hi".');
});

test('segmentWords reports cores and gaps', () => {
  assert.deepEqual(segmentWords(" J'ai  faim !"), { cores: ["J'", 'ai', 'faim', '!'], gaps: [' ', '', '  ', ' ', ''] });
});

test('spec round trip', () => {
  assert.deepEqual(words.toJSON(), { level: 'word' });
  const t = tokenizerFromJSON(JSON.parse(JSON.stringify(words.toJSON())));
  assert.ok(t instanceof WordTokenizer);
  assert.equal(t.level, 'word');
});

test('fra.txt: every sentence round-trips; vocabulary sizes', (t) => {
  if (!existsSync(fraPath)) {
    t.skip(`corpus not found at ${fraPath}`);
    return;
  }
  const { pairs } = readPairsSync(fraPath);
  let exact = 0;
  for (const p of pairs) {
    if (words.detokenize(words.tokenize(p.source)) === p.source) exact++;
    if (words.detokenize(words.tokenize(p.target)) === p.target) exact++;
  }
  t.diagnostic(`word round trip: ${exact}/${2 * pairs.length} sentences exact`);
  assert.equal(exact, 2 * pairs.length);
  const { train } = splitBySource(pairs);
  for (const side of ['source', 'target'] as const) {
    const types = new Set<string>();
    const coreTypes = new Set<string>();
    for (const p of train) {
      for (const tok of words.tokenize(p[side])) {
        types.add(tok);
        coreTypes.add(wordCore(tok));
      }
    }
    t.diagnostic(`${side}: ${types.size} word types on the training split (${train.length} pairs), ${coreTypes.size} without spacing codes`);
    // Spacing variants are a small fraction of the vocabulary.
    assert.ok(types.size < coreTypes.size * 1.02, `${types.size} vs ${coreTypes.size}`);
  }
});
