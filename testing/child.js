// The child process of startOncepay({ process: 'child' }): runs src/testing_child.ts through tsx.
import { register } from 'tsx/esm/api';
register();
await import('../src/testing_child.ts');
