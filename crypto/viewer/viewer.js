/* viewer.js - placeholder */
