/** Every policy type: importing a type's file registers it (see ../policy-type.ts). */
import './access.js';
import './content-guard.js';
import './rate-limit.js';
import './accounting.js';
